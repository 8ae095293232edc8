//! Cursor pages, the shape of every list answer: `items` and the `next_cursor` to pass as `cursor`
//! for the next page. One named type per item type, so the OpenAPI document names each page.

use serde::Serialize;
use symbiont_core::{Business, Flow, Site};
use symbiont_store::accounts::{AuditEntry, User};
use utoipa::ToSchema;
use uuid::Uuid;

macro_rules! page {
    ($($(#[$doc:meta])* $name:ident of $item:ty, cursor $cursor:ty;)*) => {
        $(
            $(#[$doc])*
            #[derive(Serialize, ToSchema)]
            pub struct $name {
                pub items: Vec<$item>,
                /// Pass as `cursor` to get the next page; null on the last page.
                #[schema(required = true)]
                pub next_cursor: Option<$cursor>,
            }
        )*
    };
}

page! {
    /// A page of businesses in creation order.
    BusinessPage of Business, cursor Uuid;
    /// A page of sites in creation order.
    SitePage of Site, cursor Uuid;
    /// A page of flows in creation order.
    FlowPage of Flow, cursor Uuid;
    /// A page of users in creation order.
    UserPage of User, cursor Uuid;
    /// A page of the audit log, newest first.
    AuditPage of AuditEntry, cursor String;
}

macro_rules! from_store_page {
    ($($name:ident of $item:ty;)*) => {
        $(
            impl From<symbiont_store::Page<$item>> for $name {
                fn from(page: symbiont_store::Page<$item>) -> Self {
                    $name {
                        items: page.items,
                        next_cursor: page.next_cursor,
                    }
                }
            }
        )*
    };
}

from_store_page! {
    BusinessPage of Business;
    SitePage of Site;
    FlowPage of Flow;
    UserPage of User;
}

impl From<symbiont_app::audit::AuditPage> for AuditPage {
    fn from(page: symbiont_app::audit::AuditPage) -> Self {
        AuditPage {
            items: page.items,
            // The cursor is the `seq` of the last entry served; older entries come after it.
            next_cursor: page.next_before.map(|seq| seq.to_string()),
        }
    }
}
