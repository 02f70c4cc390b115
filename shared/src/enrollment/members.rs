//! The two members of an enrollment reference, read from its JSON object without building it.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// `workflowId` and `whereClause` as their JSON text. A name given twice keeps its last
/// value, as a JSON object read whole does; any other member is read and ignored.
#[derive(Default)]
pub(super) struct Members<'a> {
    pub workflow_id: Option<&'a RawValue>,
    pub where_clause: Option<&'a RawValue>,
}

/// A member's name, told apart without allocating (escaped names are unescaped first).
enum Name {
    WorkflowId,
    WhereClause,
    Other,
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl Visitor<'_> for NameVisitor {
            type Value = Name;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Name, E> {
                Ok(match name {
                    "workflowId" => Name::WorkflowId,
                    "whereClause" => Name::WhereClause,
                    _ => Name::Other,
                })
            }
        }
        deserializer.deserialize_identifier(NameVisitor)
    }
}

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an enrollment reference object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut members = Members::default();
                while let Some(name) = map.next_key::<Name>()? {
                    match name {
                        Name::WorkflowId => members.workflow_id = Some(map.next_value()?),
                        Name::WhereClause => members.where_clause = Some(map.next_value()?),
                        Name::Other => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(members)
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}
