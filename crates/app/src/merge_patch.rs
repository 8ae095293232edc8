//! Partial updates: an RFC 7386 JSON merge patch applied to an entity's draft, read back with the
//! same field-naming errors as a request body, so a bad patch names the field at fault.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::AppError;

/// Applies an RFC 7386 JSON merge patch: objects merge recursively, `null` removes a member.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

/// `current` with `patch` merged in, read back as a draft.
pub fn patched<D: Serialize + DeserializeOwned>(current: &D, patch: &Value) -> Result<D, AppError> {
    if !patch.is_object() {
        return Err(AppError::invalid(
            "body",
            "a merge patch must be a JSON object",
        ));
    }
    let mut value =
        serde_json::to_value(current).map_err(|e| AppError::internal("a draft as JSON", e))?;
    merge_patch(&mut value, patch);
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        AppError::invalid(&field_of(&path, &message), message)
    })
}

/// The field a data error concerns: the path, extended by the name of an unknown or missing field
/// unless the path already ends with it.
pub fn field_of(path: &str, message: &str) -> String {
    let quoted = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split('`').next())
            .map(str::to_string)
    };
    let named = quoted("unknown field `").or_else(|| quoted("missing field `"));
    let base = if path == "." { "" } else { path };
    match named {
        Some(name) if base.is_empty() => name,
        Some(name) if base == name || base.ends_with(&format!(".{name}")) => base.to_string(),
        Some(name) => format!("{base}.{name}"),
        None if base.is_empty() => "body".to_string(),
        None => base.to_string(),
    }
}

/// A serde message without its " at line L column C" suffix (positions of a merged value mean
/// nothing to the caller).
pub fn strip_position(message: &str) -> String {
    match message.find(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}
