//! The mutation root: the registry's writes and decisions on matches, the same use cases REST
//! calls with the same caller, so the same authorization applies (members write their business's
//! data, owners delete it, only the two parties decide on a match). Inputs are the REST bodies as
//! JSON (`BusinessDraft`, `SiteDraft`, `FlowDraft`, a merge patch), read with the same field-naming
//! errors and validated by the same drafts, so there is one definition of each input.

use async_graphql::{Context, Json, Object};
use serde::de::DeserializeOwned;
use serde_json::Value;
use symbiont_app::AppError;
use symbiont_app::merge_patch::{field_of, strip_position};
use symbiont_core::{BusinessDraft, FlowDraft, SiteDraft};
use uuid::Uuid;

use crate::error::OrGraphql;
use crate::types::{BusinessNode, FlowNode, MatchNode, MatchStatus, SiteNode};
use crate::{Requester, app};

/// A draft read from a mutation's `input`; a field of the wrong shape is named (`input.name`).
fn draft<T: DeserializeOwned>(input: Value) -> async_graphql::Result<T> {
    serde_path_to_error::deserialize(input)
        .map_err(|error| {
            let path = error.path().to_string();
            let message = error.into_inner().to_string();
            AppError::invalid(
                &format!("input.{}", field_of(&path, &message)),
                strip_position(&message),
            )
        })
        .or_graphql()
}

/// The caller, if its credentials allow writing: as REST's gateway does before any write, a
/// mutation without them (or with a read-only API key) is refused before its input is looked at.
fn writer<'c>(ctx: &'c Context<'_>) -> async_graphql::Result<&'c symbiont_app::identity::Caller> {
    let caller = Requester::of(ctx).caller();
    caller.writer().or_graphql()?;
    Ok(caller)
}

pub struct MutationRoot;

#[Object(name = "Mutation")]
impl MutationRoot {
    /// Registers a business; the caller becomes its owner. `input`: the body of `POST
    /// /api/v1/businesses`.
    async fn create_business(
        &self,
        ctx: &Context<'_>,
        input: Json<Value>,
    ) -> async_graphql::Result<BusinessNode> {
        let caller = writer(ctx)?;
        let draft: BusinessDraft = draft(input.0)?;
        Ok(BusinessNode(
            app(ctx)?
                .create_business(caller, draft)
                .await
                .or_graphql()?,
        ))
    }

    /// Changes a business (members): `patch` is a JSON merge patch of its draft; `ifMatch` its
    /// version, to refuse the change if it moved on.
    async fn update_business(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        patch: Json<Value>,
        if_match: Option<i64>,
    ) -> async_graphql::Result<BusinessNode> {
        let caller = writer(ctx)?;
        Ok(BusinessNode(
            app(ctx)?
                .update_business(caller, id, &patch.0, if_match)
                .await
                .or_graphql()?,
        ))
    }

    /// Deletes a business with its sites and flows (owners); true when done.
    async fn delete_business(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<bool> {
        let caller = writer(ctx)?;
        app(ctx)?.delete_business(caller, id).await.or_graphql()?;
        Ok(true)
    }

    /// Adds a site to a business (members). `input`: the body of `POST
    /// /api/v1/businesses/{id}/sites`.
    async fn create_site(
        &self,
        ctx: &Context<'_>,
        business_id: Uuid,
        input: Json<Value>,
    ) -> async_graphql::Result<SiteNode> {
        let caller = writer(ctx)?;
        let draft: SiteDraft = draft(input.0)?;
        let app = app(ctx)?;
        app.business(business_id).await.or_graphql()?;
        Ok(SiteNode(
            app.create_site(caller, business_id, draft)
                .await
                .or_graphql()?,
        ))
    }

    /// Changes a site (members of its business) by a JSON merge patch.
    async fn update_site(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        patch: Json<Value>,
        if_match: Option<i64>,
    ) -> async_graphql::Result<SiteNode> {
        let caller = writer(ctx)?;
        Ok(SiteNode(
            app(ctx)?
                .update_site(caller, id, &patch.0, if_match)
                .await
                .or_graphql()?,
        ))
    }

    /// Deletes a site with its flows (members of its business).
    async fn delete_site(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<bool> {
        let caller = writer(ctx)?;
        app(ctx)?.delete_site(caller, id).await.or_graphql()?;
        Ok(true)
    }

    /// Registers an offer or a need (members of the site's business); its matches are computed
    /// before the answer. `input`: the body of `POST /api/v1/flows`.
    async fn create_flow(
        &self,
        ctx: &Context<'_>,
        input: Json<Value>,
    ) -> async_graphql::Result<FlowNode> {
        let caller = writer(ctx)?;
        let draft: FlowDraft = draft(input.0)?;
        Ok(FlowNode(
            app(ctx)?.create_flow(caller, draft).await.or_graphql()?,
        ))
    }

    /// Changes a flow by a JSON merge patch, e.g. `{"status": "paused"}`.
    async fn update_flow(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        patch: Json<Value>,
        if_match: Option<i64>,
    ) -> async_graphql::Result<FlowNode> {
        let caller = writer(ctx)?;
        Ok(FlowNode(
            app(ctx)?
                .update_flow(caller, id, &patch.0, if_match)
                .await
                .or_graphql()?,
        ))
    }

    /// Deletes a flow; its matches expire.
    async fn delete_flow(&self, ctx: &Context<'_>, id: Uuid) -> async_graphql::Result<bool> {
        let caller = writer(ctx)?;
        app(ctx)?.delete_flow(caller, id).await.or_graphql()?;
        Ok(true)
    }

    /// Moves a match along its lifecycle (only members of its two businesses): suggested →
    /// contacted → negotiating → agreed; rejected from any open status.
    async fn decide_match(
        &self,
        ctx: &Context<'_>,
        id: Uuid,
        status: MatchStatus,
        note: Option<String>,
        if_match: Option<i64>,
    ) -> async_graphql::Result<MatchNode> {
        let caller = writer(ctx)?;
        let view = app(ctx)?
            .decide_match(id, status.into(), note, if_match, caller)
            .await
            .or_graphql()?;
        MatchNode::from_view(view)
    }
}
