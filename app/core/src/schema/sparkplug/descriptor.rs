//! The Sparkplug B payload's protobuf description (a `FileDescriptorSet` of Tahu's
//! `sparkplug_b.proto`, package `org.eclipse.tahu.protobuf`), written into recordings as the
//! schema of every Sparkplug channel, so Foxglove and other MCAP tools decode the messages.
//! Built here from a table of the messages' fields (the oneof groupings are left out: on the
//! wire a oneof member is an optional field).

use super::proto::{put_bytes_field, put_varint_field};

/// The schema's name in a recording: the payload's full message name.
pub const SCHEMA_NAME: &str = "org.eclipse.tahu.protobuf.Payload";

// FieldDescriptorProto types and labels.
const DOUBLE: u64 = 1;
const FLOAT: u64 = 2;
const UINT64: u64 = 4;
const BOOL: u64 = 8;
const STRING: u64 = 9;
const MESSAGE: u64 = 11;
const BYTES: u64 = 12;
const UINT32: u64 = 13;
const OPTIONAL: u64 = 1;
const REPEATED: u64 = 3;

/// (name, number, label, type, message type for MESSAGE fields).
type Field = (&'static str, u64, u64, u64, &'static str);

/// Each message by its path under `Payload`, with its fields.
const MESSAGES: &[(&str, &[Field])] = &[
    (
        "",
        &[
            ("timestamp", 1, OPTIONAL, UINT64, ""),
            ("metrics", 2, REPEATED, MESSAGE, "Metric"),
            ("seq", 3, OPTIONAL, UINT64, ""),
            ("uuid", 4, OPTIONAL, STRING, ""),
            ("body", 5, OPTIONAL, BYTES, ""),
        ],
    ),
    (
        "Template",
        &[
            ("version", 1, OPTIONAL, STRING, ""),
            ("metrics", 2, REPEATED, MESSAGE, "Metric"),
            ("parameters", 3, REPEATED, MESSAGE, "Template.Parameter"),
            ("template_ref", 4, OPTIONAL, STRING, ""),
            ("is_definition", 5, OPTIONAL, BOOL, ""),
        ],
    ),
    (
        "Template.Parameter",
        &[
            ("name", 1, OPTIONAL, STRING, ""),
            ("type", 2, OPTIONAL, UINT32, ""),
            ("int_value", 3, OPTIONAL, UINT32, ""),
            ("long_value", 4, OPTIONAL, UINT64, ""),
            ("float_value", 5, OPTIONAL, FLOAT, ""),
            ("double_value", 6, OPTIONAL, DOUBLE, ""),
            ("boolean_value", 7, OPTIONAL, BOOL, ""),
            ("string_value", 8, OPTIONAL, STRING, ""),
        ],
    ),
    (
        "DataSet",
        &[
            ("num_of_columns", 1, OPTIONAL, UINT64, ""),
            ("columns", 2, REPEATED, STRING, ""),
            ("types", 3, REPEATED, UINT32, ""),
            ("rows", 4, REPEATED, MESSAGE, "DataSet.Row"),
        ],
    ),
    (
        "DataSet.DataSetValue",
        &[
            ("int_value", 1, OPTIONAL, UINT32, ""),
            ("long_value", 2, OPTIONAL, UINT64, ""),
            ("float_value", 3, OPTIONAL, FLOAT, ""),
            ("double_value", 4, OPTIONAL, DOUBLE, ""),
            ("boolean_value", 5, OPTIONAL, BOOL, ""),
            ("string_value", 6, OPTIONAL, STRING, ""),
        ],
    ),
    (
        "DataSet.Row",
        &[("elements", 1, REPEATED, MESSAGE, "DataSet.DataSetValue")],
    ),
    (
        "PropertyValue",
        &[
            ("type", 1, OPTIONAL, UINT32, ""),
            ("is_null", 2, OPTIONAL, BOOL, ""),
            ("int_value", 3, OPTIONAL, UINT32, ""),
            ("long_value", 4, OPTIONAL, UINT64, ""),
            ("float_value", 5, OPTIONAL, FLOAT, ""),
            ("double_value", 6, OPTIONAL, DOUBLE, ""),
            ("boolean_value", 7, OPTIONAL, BOOL, ""),
            ("string_value", 8, OPTIONAL, STRING, ""),
            ("propertyset_value", 9, OPTIONAL, MESSAGE, "PropertySet"),
            (
                "propertysets_value",
                10,
                OPTIONAL,
                MESSAGE,
                "PropertySetList",
            ),
        ],
    ),
    (
        "PropertySet",
        &[
            ("keys", 1, REPEATED, STRING, ""),
            ("values", 2, REPEATED, MESSAGE, "PropertyValue"),
        ],
    ),
    (
        "PropertySetList",
        &[("propertyset", 1, REPEATED, MESSAGE, "PropertySet")],
    ),
    (
        "MetaData",
        &[
            ("is_multi_part", 1, OPTIONAL, BOOL, ""),
            ("content_type", 2, OPTIONAL, STRING, ""),
            ("size", 3, OPTIONAL, UINT64, ""),
            ("seq", 4, OPTIONAL, UINT64, ""),
            ("file_name", 5, OPTIONAL, STRING, ""),
            ("file_type", 6, OPTIONAL, STRING, ""),
            ("md5", 7, OPTIONAL, STRING, ""),
            ("description", 8, OPTIONAL, STRING, ""),
        ],
    ),
    (
        "Metric",
        &[
            ("name", 1, OPTIONAL, STRING, ""),
            ("alias", 2, OPTIONAL, UINT64, ""),
            ("timestamp", 3, OPTIONAL, UINT64, ""),
            ("datatype", 4, OPTIONAL, UINT32, ""),
            ("is_historical", 5, OPTIONAL, BOOL, ""),
            ("is_transient", 6, OPTIONAL, BOOL, ""),
            ("is_null", 7, OPTIONAL, BOOL, ""),
            ("metadata", 8, OPTIONAL, MESSAGE, "MetaData"),
            ("properties", 9, OPTIONAL, MESSAGE, "PropertySet"),
            ("int_value", 10, OPTIONAL, UINT32, ""),
            ("long_value", 11, OPTIONAL, UINT64, ""),
            ("float_value", 12, OPTIONAL, FLOAT, ""),
            ("double_value", 13, OPTIONAL, DOUBLE, ""),
            ("boolean_value", 14, OPTIONAL, BOOL, ""),
            ("string_value", 15, OPTIONAL, STRING, ""),
            ("bytes_value", 16, OPTIONAL, BYTES, ""),
            ("dataset_value", 17, OPTIONAL, MESSAGE, "DataSet"),
            ("template_value", 18, OPTIONAL, MESSAGE, "Template"),
        ],
    ),
];

/// One DescriptorProto: the message at `path` (under `Payload`) and those nested in it.
fn message(path: &str) -> Vec<u8> {
    let fields = MESSAGES
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, f)| *f)
        .unwrap_or_default();
    let mut out = Vec::new();
    put_bytes_field(
        &mut out,
        1,
        path.rsplit('.')
            .next()
            .filter(|n| !n.is_empty())
            .unwrap_or("Payload")
            .as_bytes(),
    );
    for (name, number, label, kind, type_name) in fields {
        let mut field = Vec::new();
        put_bytes_field(&mut field, 1, name.as_bytes());
        put_varint_field(&mut field, 3, *number);
        put_varint_field(&mut field, 4, *label);
        put_varint_field(&mut field, 5, *kind);
        if *kind == MESSAGE {
            put_bytes_field(
                &mut field,
                6,
                format!(".{SCHEMA_NAME}.{type_name}").as_bytes(),
            );
        }
        put_bytes_field(&mut out, 2, &field);
    }
    // Nested messages: those one level below this path.
    for (nested, _) in MESSAGES {
        let parent = nested.rsplit_once('.').map_or("", |(parent, _)| parent);
        if !nested.is_empty() && parent == path {
            put_bytes_field(&mut out, 3, &message(nested));
        }
    }
    out
}

/// The `FileDescriptorSet` (serialized) describing Sparkplug B payloads.
pub fn file_descriptor_set() -> Vec<u8> {
    let mut file = Vec::new();
    put_bytes_field(&mut file, 1, b"sparkplug_b.proto");
    put_bytes_field(&mut file, 2, b"org.eclipse.tahu.protobuf");
    put_bytes_field(&mut file, 4, &message(""));
    put_bytes_field(&mut file, 12, b"proto2");
    let mut set = Vec::new();
    put_bytes_field(&mut set, 1, &file);
    set
}

/// Does this topic carry Sparkplug B protobuf payloads (every Sparkplug topic but STATE)?
pub fn is_protobuf_topic(topic: &str) -> bool {
    topic
        .strip_prefix(super::NAMESPACE)
        .is_some_and(|rest| rest.starts_with('/') && !rest.starts_with("/STATE/"))
}
