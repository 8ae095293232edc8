//! OpenAPI schemas of the domain types whose JSON shape is not what their Rust type suggests
//! (weekly profiles, canonical units), for the HTTP API's document. Only built with the `openapi`
//! feature; no behaviour depends on it.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::profile::{HOURS_PER_WEEK, WeeklyProfile};
use crate::units::Dimension;

fn hourly_values(description: Option<&str>) -> ArrayBuilder {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::Number)
                .minimum(Some(0))
                .maximum(Some(1)),
        )
        .min_items(Some(HOURS_PER_WEEK))
        .max_items(Some(HOURS_PER_WEEK))
        .description(description)
}

/// A stored profile is always served as its 168 hourly values.
impl PartialSchema for WeeklyProfile {
    fn schema() -> RefOr<Schema> {
        hourly_values(Some(
            "Share of each hour of the week (Monday 00:00 first) the flow runs, 0..1.",
        ))
        .build()
        .into()
    }
}

impl ToSchema for WeeklyProfile {}

/// How a weekly profile may be given: a schedule or the 168 hourly values (the schema `Profile`).
pub struct ProfileInput;

impl PartialSchema for ProfileInput {
    fn schema() -> RefOr<Schema> {
        let one_of = OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .examples(["24/7", "Mon-Fri 06:00-22:00; Sat 08:00-12:00 @0.5"]),
            )
            .item(hourly_values(None))
            .description(Some(
                "Weekly profile: a schedule such as `Mon-Fri 06:00-22:00; Sat 08:00-12:00 @0.5` \
                 or `24/7`, or 168 hourly values in 0..1 starting Monday 00:00. Default 24/7.",
            ))
            .build();
        RefOr::T(Schema::OneOf(one_of))
    }
}

impl ToSchema for ProfileInput {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Profile")
    }
}

/// `Flow::canonical_unit`: one unit per dimension.
pub fn canonical_unit() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(
            [
                Dimension::Power,
                Dimension::Energy,
                Dimension::Mass,
                Dimension::Volume,
            ]
            .map(Dimension::canonical_unit),
        ))
        .description(Some(
            "The unit of `canonical_quantity`, after the category's dimension.",
        ))
}
