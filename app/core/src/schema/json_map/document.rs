//! A JSON payload read for mapping: strings borrowed from the payload where they have no
//! escapes, objects as their members in order, and JSON Pointers compiled once per source.
//!
//! A mapped source reads a few values out of every message. `serde_json::Value` copies every
//! key and string and sorts every object into a tree first: on a gateway's batch that costs
//! more than the mapping and the store together. serde_json still does the parsing (and its
//! nesting limit still applies); only what it builds is lighter.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

/// One JSON value borrowing from the payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    /// Members in the payload's order. A key given twice is kept twice: applied in order,
    /// the last one wins, as with parsers that keep the last.
    Object(Vec<(Cow<'a, str>, Json<'a>)>),
}

impl<'a> Json<'a> {
    /// Parses a payload; errors are serde_json's.
    pub fn parse(payload: &'a [u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(payload)
    }

    /// The value `pointer` names, if the document has it.
    pub fn at(&self, pointer: &JsonPointer) -> Option<&Json<'a>> {
        let mut value = self;
        for token in &pointer.tokens {
            value = match value {
                // The last of a key given twice, as `serde_json::Value` would keep.
                Json::Object(members) => members
                    .iter()
                    .rev()
                    .find(|(key, _)| key == token)
                    .map(|(_, v)| v)?,
                Json::Array(items) => items.get(array_index(token)?)?,
                _ => return None,
            };
        }
        Some(value)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(text) => Some(text),
            _ => None,
        }
    }

    /// The compact JSON text of this value.
    pub fn to_json_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// An array index token: digits, without leading zeros (RFC 6901, section 4).
fn array_index(token: &str) -> Option<usize> {
    if token.is_empty()
        || (token.len() > 1 && token.starts_with('0'))
        || !token.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    token.parse().ok()
}

/// A JSON Pointer (RFC 6901) split into its unescaped reference tokens.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JsonPointer {
    text: String,
    tokens: Vec<String>,
}

impl JsonPointer {
    /// `""` is the whole document; anything else starts with `/`.
    pub fn parse(text: &str) -> Option<Self> {
        if text.is_empty() {
            return Some(JsonPointer::default());
        }
        let tokens = text
            .strip_prefix('/')?
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect();
        Some(JsonPointer {
            text: text.to_owned(),
            tokens,
        })
    }

    /// The pointer as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The whole document.
    pub fn is_root(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Its last token, unescaped (a property's default name).
    pub fn last_token(&self) -> Option<&str> {
        self.tokens.last().map(String::as_str)
    }
}

impl fmt::Display for JsonPointer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A string borrowed from the payload when it has no escapes (serde's own `Cow<str>` always
/// copies).
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(text)))
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text.to_owned())))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(text)))
            }
        }
        deserializer.deserialize_str(TextVisitor)
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

/// Items reserved up front at most: a claimed length is never trusted further.
const MAX_RESERVED: usize = 64;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Self::Value, E> {
        Ok(Json::Bool(value))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Json::Number(value.into()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        Ok(serde_json::Number::from_f64(value).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Borrowed(text)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
        Ok(Json::String(Cow::Owned(text)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(MAX_RESERVED));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0).min(MAX_RESERVED));
        while let Some(Text(key)) = map.next_key()? {
            members.push((key, map.next_value()?));
        }
        Ok(Json::Object(members))
    }
}

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(value) => serializer.serialize_bool(*value),
            Json::Number(number) => number.serialize(serializer),
            Json::String(text) => serializer.serialize_str(text),
            Json::Array(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(members) => {
                let mut map = serializer.serialize_map(Some(members.len()))?;
                for (key, value) in members {
                    map.serialize_entry(key.as_ref(), value)?;
                }
                map.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pointer(text: &str) -> JsonPointer {
        JsonPointer::parse(text).unwrap()
    }

    #[test]
    fn reads_what_serde_json_reads_borrowing_plain_strings() {
        let payload = br#"{"ts":1700000000000,"values":{"a~b":1.5,"c/d":[true,null,"x\"y"]},"name":"pump","n":-3,"dup":1,"dup":2}"#;
        let document = Json::parse(payload).unwrap();
        let value: serde_json::Value = serde_json::from_slice(payload).unwrap();
        for text in [
            "",
            "/ts",
            "/values/a~0b",
            "/values/c~1d/0",
            "/values/c~1d/1",
            "/values/c~1d/2",
            "/name",
            "/n",
            "/dup",
            "/values/c~1d/3",
            "/values/c~1d/01",
            "/missing",
            "/ts/x",
        ] {
            let ours = document
                .at(&pointer(text))
                .map(|v| serde_json::to_value(v).unwrap());
            assert_eq!(ours.as_ref(), value.pointer(text), "{text}");
        }
        assert!(
            matches!(
                document.at(&pointer("/name")),
                Some(Json::String(Cow::Borrowed("pump")))
            ),
            "no copy of a plain string"
        );
        assert!(matches!(
            document.at(&pointer("/values/c~1d/2")),
            Some(Json::String(Cow::Owned(_)))
        ));
        assert_eq!(
            document.at(&pointer("/values")).unwrap().to_json_text(),
            r#"{"a~b":1.5,"c/d":[true,null,"x\"y"]}"#
        );
    }

    #[test]
    fn refuses_what_serde_json_refuses() {
        for bad in [
            &b"{"[..],
            b"[1,]",
            b"{\"a\" 1}",
            b"nul",
            b"\"\\ud800\"",
            &[b'['; 200],
        ] {
            assert_eq!(
                Json::parse(bad).is_err(),
                serde_json::from_slice::<serde_json::Value>(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(JsonPointer::parse("values").is_none());
    }
}
