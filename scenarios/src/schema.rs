//! The JSON Schema of the scenario format, derived from [`crate::model`] with schemars. Editors validate files
//! with it (`# yaml-language-server: $schema=../schema/scenario.schema.json`); `bankgate scenario schema` prints it
//! and a test keeps `scenarios/schema/scenario.schema.json` equal to it.

/// The schema as pretty JSON with a trailing newline.
pub fn scenario_schema() -> String {
    let mut schema = schemars::schema_for!(crate::model::Scenario);
    schema.insert("$id".into(), "https://bankgate.dev/schema/scenario.schema.json".into());
    schema.insert("title".into(), "bankgate scenario".into());
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Where the checked-in copy lives, relative to the `scenarios` crate.
pub const SCHEMA_FILE: &str = "schema/scenario.schema.json";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_schema_is_up_to_date() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SCHEMA_FILE);
        let fresh = scenario_schema();
        if std::env::var_os("BANKGATE_UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &fresh).expect("write the schema");
        }
        let stored = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            stored == fresh,
            "{} is out of date: run `BANKGATE_UPDATE_GOLDEN=1 cargo nextest run --workspace -E 'test(schema)'` \
             or `bankgate scenario schema > scenarios/{SCHEMA_FILE}`",
            path.display()
        );
        let schema: serde_json::Value = serde_json::from_str(&stored).expect("valid JSON");
        assert!(schema["$defs"]["Step"].is_object(), "steps are described");
    }
}
