//! A batch of chunk messages as units of work: on the main queue, the chunks of one job go
//! together (each chunk once; see `group.rs`); every other message goes alone, as does a
//! second copy of a chunk, which the count-once path answers for.

use std::collections::HashMap;

use aws_lambda_events::event::sqs::SqsMessage;

use crate::model::ChunkMessage;

/// A message and what its body reads as.
pub(super) struct Parsed {
    pub message: SqsMessage,
    pub chunk: Result<ChunkMessage, serde_json::Error>,
}

pub(super) enum Unit {
    Alone(Box<Parsed>),
    /// Two or more different chunks of one job.
    Together(Vec<(SqsMessage, ChunkMessage)>),
}

/// The most chunks in one group: a batch's worth at the template's BatchSize. Each chunk adds
/// about 110 characters to a group write's condition, whose limit is 4 KB, and a mapping
/// with a larger BatchSize makes more groups, not larger ones.
pub const MAX_GROUP: usize = 10;

/// Splits `messages` into units, in the order each unit's first message came.
pub(super) fn units(messages: Vec<SqsMessage>, together: bool) -> Vec<Unit> {
    let parsed = messages.into_iter().map(|message| {
        let chunk = serde_json::from_str(message.body.as_deref().unwrap_or_default());
        Parsed { message, chunk }
    });
    if !together {
        return parsed.map(|parsed| Unit::Alone(Box::new(parsed))).collect();
    }
    let mut units: Vec<Vec<Parsed>> = Vec::new();
    let mut jobs: HashMap<String, usize> = HashMap::new();
    for parsed in parsed {
        let Ok(chunk) = &parsed.chunk else {
            units.push(vec![parsed]);
            continue;
        };
        let key = format!("{}/{}", chunk.job_type.as_str(), chunk.job_id);
        let open = jobs.get(&key).copied();
        let copy = open.is_some_and(|group| {
            units[group]
                .iter()
                .any(|other| matches!(&other.chunk, Ok(c) if c.chunk == chunk.chunk))
        });
        match open {
            Some(group) if !copy && units[group].len() < MAX_GROUP => units[group].push(parsed),
            // A second copy goes alone; a full group leaves the next chunks to a new one.
            _ => {
                if !copy {
                    jobs.insert(key, units.len());
                }
                units.push(vec![parsed]);
            }
        }
    }
    units.into_iter().map(unit).collect()
}

fn unit(mut members: Vec<Parsed>) -> Unit {
    if members.len() < 2 {
        if let Some(alone) = members.pop() {
            return Unit::Alone(Box::new(alone));
        }
    }
    Unit::Together(
        members
            .into_iter()
            .filter_map(|member| Some((member.message, member.chunk.ok()?)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::JobType;

    fn message(id: &str, body: &str) -> SqsMessage {
        let mut message = SqsMessage::default();
        message.message_id = Some(id.to_owned());
        message.body = Some(body.to_owned());
        message
    }

    fn chunk(id: &str, job: &str, chunk: u32) -> SqsMessage {
        let body = ChunkMessage {
            job_id: job.into(),
            job_type: JobType::SendMfp,
            chunk,
            rows: Vec::new(),
            sealed: false,
            window: 0,
        };
        message(id, &serde_json::to_string(&body).unwrap())
    }

    /// Each unit's message ids, `[..]` for a group.
    fn shape(units: &[Unit]) -> Vec<String> {
        units
            .iter()
            .map(|unit| match unit {
                Unit::Alone(parsed) => parsed.message.message_id.clone().unwrap(),
                Unit::Together(members) => {
                    let ids: Vec<String> = members
                        .iter()
                        .map(|(m, _)| m.message_id.clone().unwrap())
                        .collect();
                    format!("[{}]", ids.join(" "))
                }
            })
            .collect()
    }

    #[test]
    fn the_chunks_of_one_job_go_together_and_a_second_copy_goes_alone() {
        let batch = vec![
            chunk("a0", "a", 0),
            chunk("b0", "b", 0),
            message("bad", "not a chunk"),
            chunk("a1", "a", 1),
            chunk("a0again", "a", 0),
            chunk("c5", "c", 5),
            chunk("a2", "a", 2),
        ];
        let units = units(batch, true);
        assert_eq!(
            shape(&units),
            ["[a0 a1 a2]", "b0", "bad", "a0again", "c5"],
            "first-seen order"
        );
        let Unit::Alone(bad) = &units[2] else {
            panic!()
        };
        assert!(bad.chunk.is_err());
    }

    #[test]
    fn a_group_holds_at_most_max_group_chunks() {
        let batch: Vec<SqsMessage> = (0..25).map(|c| chunk(&format!("m{c}"), "a", c)).collect();
        let units = units(batch, true);
        let sizes: Vec<usize> = units
            .iter()
            .map(|unit| match unit {
                Unit::Alone(_) => 1,
                Unit::Together(members) => members.len(),
            })
            .collect();
        assert_eq!(sizes, [MAX_GROUP, MAX_GROUP, 5]);
    }

    #[test]
    fn the_dead_letter_queue_takes_every_message_alone() {
        let batch = vec![chunk("a0", "a", 0), chunk("a1", "a", 1)];
        assert_eq!(shape(&units(batch, false)), ["a0", "a1"]);
    }
}
