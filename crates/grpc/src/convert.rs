//! Conversions between the wire messages of `symbiont.v1` and the app's values: flow drafts in
//! (every field checked, errors naming the request field), flows and match views out.
//!
//! A match is rendered by the app once, as the JSON the REST views and the live feed serve
//! (redaction included, `symbiont_app::visibility`); [`match_message`] carries that rendering into
//! the `Match` message field by field, so gRPC shows exactly what REST shows. It reports keys it
//! does not know, and the tests fail on any, so a field added to the views cannot be silently
//! left out of the proto. Flows are typed: their conversions destructure every field, so a field
//! added to `Flow` or `FlowDraft` fails to compile here until the proto has it.
//!
//! Nothing here decides what a caller may see: that is the app's rendering.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use symbiont_core::{
    Direction, Flow, FlowDraft, FlowStatus, MatchStatus, PhysicalForm, Quality, Quantity,
};
use tonic::Status;
use uuid::Uuid;

use crate::error::invalid_argument;
use crate::proto as pb;

/// A UUID from a request field; the error names the field.
pub fn parse_id(field: &str, text: &str) -> Result<Uuid, Status> {
    if text.trim().is_empty() {
        return Err(invalid_argument(field, "is required"));
    }
    Uuid::parse_str(text.trim())
        .map_err(|_| invalid_argument(field, format!("'{text}' is not a UUID")))
}

pub fn match_status(status: MatchStatus) -> pb::MatchStatus {
    match status {
        MatchStatus::Suggested => pb::MatchStatus::Suggested,
        MatchStatus::Contacted => pb::MatchStatus::Contacted,
        MatchStatus::Negotiating => pb::MatchStatus::Negotiating,
        MatchStatus::Agreed => pb::MatchStatus::Agreed,
        MatchStatus::Rejected => pb::MatchStatus::Rejected,
        MatchStatus::Expired => pb::MatchStatus::Expired,
    }
}

/// A status from a request field: `None` for `MATCH_STATUS_UNSPECIFIED`.
pub fn status_filter(field: &str, value: i32) -> Result<Option<MatchStatus>, Status> {
    Ok(match pb::MatchStatus::try_from(value) {
        Ok(pb::MatchStatus::Unspecified) => None,
        Ok(pb::MatchStatus::Suggested) => Some(MatchStatus::Suggested),
        Ok(pb::MatchStatus::Contacted) => Some(MatchStatus::Contacted),
        Ok(pb::MatchStatus::Negotiating) => Some(MatchStatus::Negotiating),
        Ok(pb::MatchStatus::Agreed) => Some(MatchStatus::Agreed),
        Ok(pb::MatchStatus::Rejected) => Some(MatchStatus::Rejected),
        Ok(pb::MatchStatus::Expired) => Some(MatchStatus::Expired),
        Err(_) => {
            return Err(invalid_argument(
                field,
                format!("{value} is not a match status"),
            ));
        }
    })
}

fn text(value: &Value) -> Option<String> {
    value.as_str().map(str::to_string)
}

/// A match view (as `GET /api/v1/matches/{id}` serves it to the viewer) as a `Match` message.
/// Keys the message has no field for are pushed to `unknown`.
pub fn match_message(view: &Value, unknown: &mut Vec<String>) -> Result<pb::Match, Status> {
    let Some(object) = view.as_object() else {
        tracing::error!("a match view is not a JSON object");
        return Err(Status::internal(
            "an unexpected error occurred; it has been logged",
        ));
    };
    let mut message = pb::Match::default();
    for (key, value) in object {
        match key.as_str() {
            "id" => message.id = text(value).unwrap_or_default(),
            "offer_flow_id" => message.offer_flow_id = text(value),
            "need_flow_id" => message.need_flow_id = text(value),
            "offer_business_id" => message.offer_business_id = text(value),
            "need_business_id" => message.need_business_id = text(value),
            "offer_anonymous" => message.offer_anonymous = value.as_bool().unwrap_or(false),
            "need_anonymous" => message.need_anonymous = value.as_bool().unwrap_or(false),
            "offer_category" => message.offer_category = text(value).unwrap_or_default(),
            "need_category" => message.need_category = text(value).unwrap_or_default(),
            "score" => message.score = value.as_f64(),
            "components" => {
                message.components = value.as_object().map(|c| {
                    let part = |name: &str| c.get(name).and_then(Value::as_f64).unwrap_or(0.0);
                    pb::ScoreComponents {
                        coverage: part("coverage"),
                        temporal: part("temporal"),
                        distance: part("distance"),
                        quality: part("quality"),
                        economics: part("economics"),
                        co2: part("co2"),
                    }
                })
            }
            "distance_km" => message.distance_km = value.as_f64(),
            "allowed_distance_km" => message.allowed_distance_km = value.as_f64(),
            "delivered_annual_amount" => message.delivered_annual_amount = value.as_f64(),
            "amount_unit" => message.amount_unit = text(value).unwrap_or_default(),
            "delivered_quantity" => message.delivered_quantity = value.as_f64(),
            "quantity_unit" => message.quantity_unit = text(value).unwrap_or_default(),
            "covered_share" => message.covered_share = value.as_f64(),
            "allocatable_quantity" => message.allocatable_quantity = value.as_f64(),
            "conversion" => message.conversion = value.as_f64().unwrap_or(0.0),
            "temporal_overlap" => message.temporal_overlap = value.as_f64(),
            "quality_margin" => message.quality_margin = value.as_f64(),
            "savings_eur_per_year" => message.savings_eur_per_year = value.as_f64(),
            "co2_t_per_year" => message.co2_t_per_year = value.as_f64(),
            "explanation" => message.explanation = text(value).unwrap_or_default(),
            "status" => {
                let status = value.as_str().and_then(MatchStatus::parse);
                message.status = status.map_or(pb::MatchStatus::Unspecified, match_status) as i32;
            }
            "expired_reason" => message.expired_reason = text(value),
            "note" => message.note = text(value),
            "hazardous_waste" => {
                message.hazardous_waste = value.as_object().map(|h| pb::HazardousWaste {
                    ewc_code: h.get("ewc_code").and_then(text).unwrap_or_default(),
                    note: h.get("note").and_then(text).unwrap_or_default(),
                })
            }
            "decision_version" => message.decision_version = value.as_i64().unwrap_or(0),
            "distance_band" => message.distance_band = text(value),
            "savings_band" => message.savings_band = text(value),
            "co2_band" => message.co2_band = text(value),
            "quantity_band" => message.quantity_band = text(value),
            "redacted" => {
                message.redacted = value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|side| match side.as_str() {
                        Some("offer") => pb::Side::Offer as i32,
                        Some("need") => pb::Side::Need as i32,
                        _ => pb::Side::Unspecified as i32,
                    })
                    .collect()
            }
            // Carried on the event (`MatchEvent.withdrawn_reason`), not on the match.
            "withdrawn_reason" => {}
            other => unknown.push(other.to_string()),
        }
    }
    Ok(message)
}

/// A match view as a message; unknown keys are logged (the tests keep them at none).
pub fn match_of(view: &Value) -> Result<pb::Match, Status> {
    let mut unknown = Vec::new();
    let message = match_message(view, &mut unknown)?;
    if !unknown.is_empty() {
        tracing::debug!(?unknown, "match view fields without a proto field");
    }
    Ok(message)
}

fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: i32::try_from(at.timestamp_subsec_nanos()).unwrap_or(0),
    }
}

fn date_text(date: Option<NaiveDate>) -> Option<String> {
    date.map(|d| d.format("%Y-%m-%d").to_string())
}

fn proto_value(value: Value) -> prost_types::Value {
    use prost_types::value::Kind;
    let kind = match value {
        Value::Null => Kind::NullValue(prost_types::NullValue::NullValue as i32),
        Value::Bool(b) => Kind::BoolValue(b),
        Value::Number(n) => Kind::NumberValue(n.as_f64().unwrap_or(0.0)),
        Value::String(s) => Kind::StringValue(s),
        Value::Array(items) => Kind::ListValue(prost_types::ListValue {
            values: items.into_iter().map(proto_value).collect(),
        }),
        Value::Object(fields) => Kind::StructValue(prost_types::Struct {
            fields: fields
                .into_iter()
                .map(|(k, v)| (k, proto_value(v)))
                .collect(),
        }),
    };
    prost_types::Value { kind: Some(kind) }
}

fn json_value(value: prost_types::Value) -> Value {
    use prost_types::value::Kind;
    match value.kind {
        None | Some(Kind::NullValue(_)) => Value::Null,
        Some(Kind::BoolValue(b)) => Value::Bool(b),
        Some(Kind::NumberValue(n)) => {
            serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
        }
        Some(Kind::StringValue(s)) => Value::String(s),
        Some(Kind::ListValue(list)) => {
            Value::Array(list.values.into_iter().map(json_value).collect())
        }
        Some(Kind::StructValue(object)) => Value::Object(
            object
                .fields
                .into_iter()
                .map(|(k, v)| (k, json_value(v)))
                .collect(),
        ),
    }
}

fn physical_form(form: Option<PhysicalForm>) -> pb::PhysicalForm {
    match form {
        None => pb::PhysicalForm::Unspecified,
        Some(PhysicalForm::Solid) => pb::PhysicalForm::Solid,
        Some(PhysicalForm::Liquid) => pb::PhysicalForm::Liquid,
        Some(PhysicalForm::Gas) => pb::PhysicalForm::Gas,
        Some(PhysicalForm::Slurry) => pb::PhysicalForm::Slurry,
        Some(PhysicalForm::Energy) => pb::PhysicalForm::Energy,
    }
}

fn quality_message(quality: Quality) -> pb::Quality {
    let Quality {
        temperature_c,
        pressure_bar,
        purity_pct,
        physical_form: form,
        attributes,
    } = quality;
    pb::Quality {
        temperature_c,
        pressure_bar,
        purity_pct,
        physical_form: physical_form(form) as i32,
        attributes: (!attributes.is_empty()).then(|| prost_types::Struct {
            fields: attributes
                .into_iter()
                .map(|(k, v)| (k, proto_value(v)))
                .collect(),
        }),
    }
}

fn direction(direction: Direction) -> pb::Direction {
    match direction {
        Direction::Offer => pb::Direction::Offer,
        Direction::Need => pb::Direction::Need,
    }
}

fn flow_status(status: FlowStatus) -> pb::FlowStatus {
    match status {
        FlowStatus::Active => pb::FlowStatus::Active,
        FlowStatus::Paused => pb::FlowStatus::Paused,
    }
}

/// A flow as the `Flow` message.
pub fn flow_message(flow: Flow) -> pb::Flow {
    let Flow {
        id,
        site_id,
        business_id,
        direction: flow_direction,
        category,
        ewc_code,
        hazardous,
        description,
        quality,
        quantity,
        canonical_quantity,
        canonical_unit,
        annual_amount,
        schedule,
        profile,
        monthly_factors,
        price_eur_per_unit,
        max_distance_km,
        valid_from,
        valid_until,
        status,
        anonymous,
        max_proposals,
        pays_for_co2,
        version,
        created_at,
        updated_at,
    } = flow;
    pb::Flow {
        id: id.to_string(),
        site_id: site_id.to_string(),
        business_id: business_id.to_string(),
        direction: direction(flow_direction) as i32,
        category,
        ewc_code,
        hazardous,
        description,
        quality: Some(quality_message(quality)),
        quantity: Some(pb::Quantity {
            value: quantity.value,
            unit: quantity.unit,
        }),
        canonical_quantity,
        canonical_unit,
        annual_amount,
        schedule,
        profile: Some(pb::HourlyProfile {
            hours: Vec::<f32>::from(profile)
                .into_iter()
                .map(f64::from)
                .collect(),
        }),
        monthly_factors: monthly_factors.map(Vec::from).unwrap_or_default(),
        price_eur_per_unit,
        max_distance_km,
        valid_from: date_text(valid_from),
        valid_until: date_text(valid_until),
        status: flow_status(status) as i32,
        anonymous,
        max_proposals,
        pays_for_co2,
        version,
        created_at: Some(timestamp(created_at)),
        updated_at: Some(timestamp(updated_at)),
    }
}

fn parse_date(field: &str, text: Option<String>) -> Result<Option<NaiveDate>, Status> {
    text.map(|t| {
        NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d")
            .map_err(|_| invalid_argument(field, format!("'{t}' is not a date (YYYY-MM-DD)")))
    })
    .transpose()
}

/// A flow draft from `UpsertFlowRequest.flow` (fields named `flow.<field>`); what the wire cannot
/// say wrong (an unknown enum value, a malformed id or date) is refused here, the rest by the use
/// case's validation, as REST does.
pub fn flow_draft(draft: pb::FlowDraft) -> Result<FlowDraft, Status> {
    let pb::FlowDraft {
        site_id,
        direction,
        category,
        ewc_code,
        description,
        quality,
        quantity,
        profile,
        monthly_factors,
        price_eur_per_unit,
        max_distance_km,
        valid_from,
        valid_until,
        status,
        anonymous,
        max_proposals,
        pays_for_co2,
    } = draft;
    let direction = match pb::Direction::try_from(direction) {
        Ok(pb::Direction::Offer) => Direction::Offer,
        Ok(pb::Direction::Need) => Direction::Need,
        _ => {
            return Err(invalid_argument(
                "flow.direction",
                "must be DIRECTION_OFFER or DIRECTION_NEED",
            ));
        }
    };
    let status = match pb::FlowStatus::try_from(status) {
        Ok(pb::FlowStatus::Unspecified | pb::FlowStatus::Active) => FlowStatus::Active,
        Ok(pb::FlowStatus::Paused) => FlowStatus::Paused,
        Err(_) => {
            return Err(invalid_argument(
                "flow.status",
                format!("{status} is not a flow status"),
            ));
        }
    };
    let Some(quantity) = quantity else {
        return Err(invalid_argument(
            "flow.quantity",
            "is required: a value and a unit, e.g. 400 kW",
        ));
    };
    let quality = match quality {
        None => Quality::default(),
        Some(pb::Quality {
            temperature_c,
            pressure_bar,
            purity_pct,
            physical_form,
            attributes,
        }) => Quality {
            temperature_c,
            pressure_bar,
            purity_pct,
            physical_form: match pb::PhysicalForm::try_from(physical_form) {
                Ok(pb::PhysicalForm::Unspecified) => None,
                Ok(pb::PhysicalForm::Solid) => Some(PhysicalForm::Solid),
                Ok(pb::PhysicalForm::Liquid) => Some(PhysicalForm::Liquid),
                Ok(pb::PhysicalForm::Gas) => Some(PhysicalForm::Gas),
                Ok(pb::PhysicalForm::Slurry) => Some(PhysicalForm::Slurry),
                Ok(pb::PhysicalForm::Energy) => Some(PhysicalForm::Energy),
                Err(_) => {
                    return Err(invalid_argument(
                        "flow.quality.physical_form",
                        format!("{physical_form} is not a physical form"),
                    ));
                }
            },
            attributes: attributes
                .map(|s| {
                    s.fields
                        .into_iter()
                        .map(|(k, v)| (k, json_value(v)))
                        .collect::<BTreeMap<_, _>>()
                })
                .unwrap_or_default(),
        },
    };
    let profile = profile.map(|profile| match profile {
        pb::flow_draft::Profile::Schedule(schedule) => Value::String(schedule),
        pb::flow_draft::Profile::Hourly(hourly) => Value::Array(
            hourly
                .hours
                .into_iter()
                .map(|h| serde_json::Number::from_f64(h).map_or(Value::Null, Value::Number))
                .collect(),
        ),
    });
    Ok(FlowDraft {
        site_id: parse_id("flow.site_id", &site_id)?,
        direction,
        category,
        ewc_code,
        description,
        quality,
        quantity: Quantity {
            value: quantity.value,
            unit: quantity.unit,
        },
        profile,
        monthly_factors: (!monthly_factors.is_empty()).then_some(monthly_factors),
        price_eur_per_unit,
        max_distance_km,
        valid_from: parse_date("flow.valid_from", valid_from)?,
        valid_until: parse_date("flow.valid_until", valid_until)?,
        status,
        anonymous,
        max_proposals,
        pays_for_co2,
    })
}
