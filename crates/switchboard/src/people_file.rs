//! Editing the people of a configuration file (`switchboard user add`) with `toml_edit`, so the
//! operator's comments and layout survive. The caller checks the result with the normal loader
//! before writing it.

use std::path::Path;

use toml_edit::{Array, DocumentMut, Item, Table, value};

/// `text` with a new `[[agents]]` entry for `name` and `name` added to each of `queues`.
pub fn add_person(
    text: &str,
    name: &str,
    display_name: Option<&str>,
    role: &str,
    capacity: u32,
    queues: &[String],
) -> Result<String, String> {
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e| format!("the configuration is not valid TOML: {e}"))?;
    for section in ["agents", "bots"] {
        if let Some(list) = doc.get(section).and_then(Item::as_array_of_tables)
            && list.iter().any(|t| t.get("name").and_then(Item::as_str) == Some(name))
        {
            return Err(format!("`{name}` is already in [[{section}]]"));
        }
    }
    let mut person = Table::new();
    person.insert("name", value(name));
    person.insert("display_name", value(display_name.unwrap_or(name)));
    person.insert("role", value(role));
    person.insert("capacity", value(i64::from(capacity)));
    match doc.get_mut("agents") {
        Some(Item::ArrayOfTables(list)) => list.push(person),
        Some(_) => return Err("`agents` in the configuration is not a list of [[agents]] tables".to_owned()),
        None => {
            let mut list = toml_edit::ArrayOfTables::new();
            list.push(person);
            doc.insert("agents", Item::ArrayOfTables(list));
        }
    }
    for queue in queues {
        let table = doc
            .get_mut("queues")
            .and_then(Item::as_array_of_tables_mut)
            .and_then(|list| {
                list.iter_mut()
                    .find(|t| t.get("name").and_then(Item::as_str) == Some(queue.as_str()))
            })
            .ok_or_else(|| format!("there is no [[queues]] entry named `{queue}`"))?;
        let members = table
            .entry("members")
            .or_insert_with(|| value(Array::new()))
            .as_array_mut()
            .ok_or_else(|| format!("`members` of queue `{queue}` is not a list"))?;
        members.push(name);
    }
    Ok(doc.to_string())
}

/// Replaces `path` with `text` at once (a temporary file beside it, then a rename), so a hub
/// or a crash never sees half a file.
pub fn write_atomically(path: &Path, text: &str) -> Result<(), String> {
    let tmp = path.with_extension("toml.tmp");
    std::fs::write(&tmp, text).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_is_added_with_their_queues_and_the_comments_stay() {
        let text =
            "# our hub\n[[agents]]\nname = \"alice\" # the first\n\n[[queues]]\nname = \"Q\"\nmembers = [\"alice\"]\n";
        let edited = add_person(text, "dave", Some("Dave Kim"), "agent", 2, &["Q".to_owned()]).unwrap();
        assert!(edited.starts_with("# our hub\n"), "{edited}");
        assert!(edited.contains("# the first"));
        assert!(
            edited.contains("name = \"dave\"\ndisplay_name = \"Dave Kim\"\nrole = \"agent\"\ncapacity = 2"),
            "{edited}"
        );
        assert!(edited.contains("members = [\"alice\", \"dave\"]"), "{edited}");
    }

    #[test]
    fn a_taken_name_or_an_unknown_queue_is_refused() {
        let text = "[[agents]]\nname = \"alice\"\n[[queues]]\nname = \"Q\"\n";
        assert!(
            add_person(text, "alice", None, "agent", 1, &[])
                .unwrap_err()
                .contains("already")
        );
        assert!(
            add_person(text, "dave", None, "agent", 1, &["Nope".to_owned()])
                .unwrap_err()
                .contains("`Nope`")
        );
        let added = add_person(text, "dave", None, "agent", 1, &["Q".to_owned()]).unwrap();
        assert!(added.contains("members = [\"dave\"]"), "{added}");
    }
}
