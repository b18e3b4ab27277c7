//! The contracts may grow, never break: a field number once used keeps its
//! name, type and label, or is reserved. `baseline.json` is the committed
//! snapshot; after an additive change, refresh it with
//! `UPDATE_PROTO_BASELINE=1 cargo test -p mart-contracts --test compatibility`.
//! A breaking change needs a new `v2` package instead.

use std::collections::BTreeMap;
use std::path::Path;

use mart_contracts::prost::Message;
use mart_contracts::prost_types::{DescriptorProto, FileDescriptorSet};

/// message full name → field number → "name type type_name label"
type Shape = BTreeMap<String, BTreeMap<String, String>>;

fn collect(prefix: &str, msgs: &[DescriptorProto], shape: &mut Shape, reserved: &mut BTreeMap<String, Vec<(i32, i32)>>) {
    for m in msgs {
        let name = format!("{prefix}.{}", m.name());
        let fields = shape.entry(name.clone()).or_default();
        for f in &m.field {
            fields.insert(
                f.number().to_string(),
                format!("{} {:?} {} {:?}", f.name(), f.r#type(), f.type_name(), f.label()),
            );
        }
        // Reserved ranges are [start, end) in descriptors.
        reserved.insert(name.clone(), m.reserved_range.iter().map(|r| (r.start(), r.end())).collect());
        collect(&name, &m.nested_type, shape, reserved);
    }
}

fn current() -> (Shape, BTreeMap<String, Vec<(i32, i32)>>) {
    let fds = FileDescriptorSet::decode(mart_contracts::DESCRIPTOR_SET).unwrap();
    let (mut shape, mut reserved) = (Shape::new(), BTreeMap::new());
    for file in fds.file.iter().filter(|f| f.package().starts_with("mart.")) {
        collect(&format!(".{}", file.package()), &file.message_type, &mut shape, &mut reserved);
    }
    (shape, reserved)
}

/// What breaks wire compatibility between `baseline` and `now`.
fn breaking_changes(baseline: &Shape, now: &Shape, reserved: &BTreeMap<String, Vec<(i32, i32)>>) -> Vec<String> {
    let mut problems = Vec::new();
    for (msg, fields) in baseline {
        let Some(now_fields) = now.get(msg) else {
            problems.push(format!("{msg} was removed; move breaking changes to a new package version"));
            continue;
        };
        for (number, was) in fields {
            match now_fields.get(number) {
                Some(is) if is == was => {}
                Some(is) => problems.push(format!("{msg} field {number} changed from `{was}` to `{is}`")),
                None => {
                    let n: i32 = number.parse().unwrap();
                    let is_reserved = reserved.get(msg).is_some_and(|r| r.iter().any(|(s, e)| n >= *s && n < *e));
                    if !is_reserved {
                        problems.push(format!("{msg} field {number} (`{was}`) was removed without `reserved {number};`"));
                    }
                }
            }
        }
    }
    problems
}

#[test]
fn contracts_are_compatible_with_the_baseline() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("baseline.json");
    let (now, reserved) = current();
    if std::env::var_os("UPDATE_PROTO_BASELINE").is_some() {
        if path.exists() {
            let baseline: Shape = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let problems = breaking_changes(&baseline, &now, &reserved);
            assert!(problems.is_empty(), "refusing to record a breaking baseline:\n{}", problems.join("\n"));
        }
        std::fs::write(&path, serde_json::to_string_pretty(&now).unwrap() + "\n").unwrap();
        return;
    }
    let baseline: Shape = serde_json::from_str(&std::fs::read_to_string(&path).expect("proto/baseline.json")).unwrap();
    let problems = breaking_changes(&baseline, &now, &reserved);
    assert!(problems.is_empty(), "breaking contract changes:\n{}", problems.join("\n"));
    // New messages or fields must be recorded so the next change is checked against them.
    let mut unrecorded = Vec::new();
    for (m, fields) in &now {
        for n in fields.keys() {
            if baseline.get(m).is_none_or(|b| !b.contains_key(n)) {
                unrecorded.push(format!("{m} field {n}"));
            }
        }
    }
    assert!(unrecorded.is_empty(), "not in baseline.json (run with UPDATE_PROTO_BASELINE=1): {unrecorded:?}");
}

fn shape(entries: &[(&str, &str, &str)]) -> Shape {
    let mut s = Shape::new();
    for (m, n, d) in entries {
        s.entry(m.to_string()).or_default().insert(n.to_string(), d.to_string());
    }
    s
}

#[test]
fn reused_or_changed_numbers_are_caught() {
    let base = shape(&[(".p.M", "1", "id TypeString  LabelOptional"), (".p.M", "2", "qty TypeInt32  LabelOptional")]);
    let renamed = shape(&[(".p.M", "1", "id TypeString  LabelOptional"), (".p.M", "2", "count TypeInt32  LabelOptional")]);
    assert_eq!(breaking_changes(&base, &renamed, &BTreeMap::new()).len(), 1);
    let retyped = shape(&[(".p.M", "1", "id TypeString  LabelOptional"), (".p.M", "2", "qty TypeString  LabelOptional")]);
    assert_eq!(breaking_changes(&base, &retyped, &BTreeMap::new()).len(), 1);
    let removed = shape(&[(".p.M", "1", "id TypeString  LabelOptional")]);
    assert_eq!(breaking_changes(&base, &removed, &BTreeMap::new()).len(), 1);
    let reserved = BTreeMap::from([(".p.M".to_string(), vec![(2, 3)])]);
    assert!(breaking_changes(&base, &removed, &reserved).is_empty());
    let added = shape(&[
        (".p.M", "1", "id TypeString  LabelOptional"),
        (".p.M", "2", "qty TypeInt32  LabelOptional"),
        (".p.M", "3", "note TypeString  LabelOptional"),
    ]);
    assert!(breaking_changes(&base, &added, &BTreeMap::new()).is_empty());
    assert_eq!(breaking_changes(&base, &Shape::new(), &BTreeMap::new()).len(), 1);
}
