//! Binding JSON properties the way PVWA's .NET model binding does: names in any case, unknown
//! ones ignored, `null` as absent, a name given twice in two spellings refused; typed getters
//! whose errors name the property as the caller spelt it.

use serde_json::{Map, Value};

/// A property that cannot be bound: where it is (`accountsList[3].safeName`) and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FieldError {
    pub target: String,
    pub message: String,
}

impl FieldError {
    pub fn new(target: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            target: target.into(),
            message: message.into(),
        }
    }
}

/// The properties of `object` that are among `known`, by their canonical name, each with the
/// caller's spelling; `null` counts as absent, unknown names are ignored.
pub fn bind<'a>(
    object: &'a Map<String, Value>,
    known: &[&'static str],
    target: &str,
) -> Result<Bound<'a>, FieldError> {
    let mut bound = Bound {
        fields: Vec::new(),
        target: target.to_owned(),
    };
    let mut seen: Vec<(&'static str, &'a str)> = Vec::new();
    for (given, value) in object {
        let Some(canonical) = known.iter().find(|k| k.eq_ignore_ascii_case(given)) else {
            continue;
        };
        if let Some((_, first)) = seen.iter().find(|(c, _)| c == canonical) {
            let path = join(target, given);
            return Err(FieldError::new(
                path.clone(),
                format!("{path} is given twice (also as {first}); give {canonical} once"),
            ));
        }
        seen.push((canonical, given));
        if !value.is_null() {
            bound.fields.push((canonical, given, value));
        }
    }
    Ok(bound)
}

fn join(target: &str, field: &str) -> String {
    if target.is_empty() {
        field.to_owned()
    } else {
        format!("{target}.{field}")
    }
}

/// Properties bound by [`bind`], with typed getters whose errors name the caller's spelling.
pub struct Bound<'a> {
    fields: Vec<(&'static str, &'a str, &'a Value)>,
    target: String,
}

impl<'a> Bound<'a> {
    /// The value of `canonical` and the path naming it as the caller spelt it.
    pub fn get(&self, canonical: &str) -> Option<(String, &'a Value)> {
        self.fields
            .iter()
            .find(|(c, _, _)| *c == canonical)
            .map(|(_, given, value)| (join(&self.target, given), *value))
    }

    pub(super) fn typed<T>(
        &self,
        canonical: &str,
        expected: &str,
        read: impl Fn(&'a Value) -> Option<T>,
    ) -> Result<Option<T>, FieldError> {
        match self.get(canonical) {
            None => Ok(None),
            Some((path, value)) => read(value)
                .map(Some)
                .ok_or_else(|| FieldError::new(path.clone(), format!("{path} must be {expected}"))),
        }
    }

    pub fn string(&self, canonical: &str) -> Result<Option<String>, FieldError> {
        self.typed(canonical, "a string", |v| v.as_str().map(str::to_owned))
    }

    pub fn boolean(&self, canonical: &str) -> Result<Option<bool>, FieldError> {
        self.typed(canonical, "a boolean", Value::as_bool)
    }

    pub fn int32(&self, canonical: &str) -> Result<Option<i32>, FieldError> {
        self.typed(canonical, "a 32-bit integer", |v| {
            v.as_i64().and_then(|n| i32::try_from(n).ok())
        })
    }

    /// A required, non-blank string.
    pub fn required(&self, canonical: &str) -> Result<String, FieldError> {
        let path = join(&self.target, canonical);
        match self.string(canonical)? {
            None => Err(FieldError::new(path.clone(), format!("{path} is required"))),
            Some(text) if text.trim().is_empty() => {
                let path = self.get(canonical).map(|(p, _)| p).unwrap_or(path);
                Err(FieldError::new(
                    path.clone(),
                    format!("{path} must not be empty"),
                ))
            }
            Some(text) => Ok(text),
        }
    }

    /// A nested object's properties, bound the same way.
    pub fn object(
        &self,
        canonical: &str,
        known: &[&'static str],
    ) -> Result<Option<Bound<'a>>, FieldError> {
        match self.get(canonical) {
            None => Ok(None),
            Some((path, Value::Object(inner))) => bind(inner, known, &path).map(Some),
            Some((path, _)) => Err(FieldError::new(
                path.clone(),
                format!("{path} must be an object"),
            )),
        }
    }
}
