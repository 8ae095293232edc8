//! Batched loading: the businesses a page of matches (or sites, or flows) refers to are read in
//! one store call (`App::businesses_by_ids`) however many items ask for them, so a page costs a
//! fixed number of store calls whatever its size. One loader per request (or per subscription
//! event), with no cache across requests: a business changed meanwhile is read fresh.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use symbiont_app::App;
use symbiont_core::Business;
use uuid::Uuid;

use crate::error::graphql_error;

/// Loads businesses by id for the resolvers of one request.
pub struct BusinessLoader {
    app: Arc<App>,
}

impl BusinessLoader {
    /// A loader for one request; its batches run on the Tokio runtime.
    pub fn for_request(app: Arc<App>) -> DataLoader<BusinessLoader> {
        DataLoader::new(BusinessLoader { app }, tokio::spawn)
    }
}

impl Loader<Uuid> for BusinessLoader {
    type Value = Business;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, Business>, Self::Error> {
        let businesses = self
            .app
            .businesses_by_ids(ids)
            .await
            .map_err(graphql_error)?;
        Ok(businesses.into_iter().map(|b| (b.id, b)).collect())
    }
}
