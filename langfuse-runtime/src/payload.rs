//! The two kinds of value text a record carries: [`JsonText`] (compact JSON, as sent) and
//! [`Payload`] (an input or output: raw text or JSON). Both keep the encoded text, so export
//! copies bytes, and both parse on request, so an exporter or the console never needs a JSON
//! reader of its own.

mod compact;

use std::fmt;
use std::ops::Deref;

use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde_json::value::RawValue;

pub(crate) use compact::{CompactText, INLINE_CAPACITY};

/// Compact JSON text of one value, exactly as it goes on the wire.
///
/// The SDK builds these from `Serialize` values with its own encoder (big integers and NaN as
/// strings, failures as placeholders), so the text is always valid JSON. Read it as a `&str`
/// (it derefs to one), or parse it.
///
/// ```
/// use langfuse_runtime::JsonText;
/// let usage: JsonText = r#"{"input":12,"output":3}"#.parse().unwrap();
/// assert_eq!(&*usage, r#"{"input":12,"output":3}"#);
/// let value: serde_json::Value = usage.parse_as().unwrap();
/// assert_eq!(value["input"], 12);
/// assert!("{not json".parse::<JsonText>().is_err());
/// ```
// Short texts are inline (`CompactText`): most captured values need no heap buffer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct JsonText(CompactText);

impl JsonText {
    /// Text the SDK's encoder produced: valid JSON by construction, not re-checked.
    pub(crate) fn from_encoded(text: String) -> Self {
        Self(CompactText::heap(text))
    }

    /// [`JsonText::from_encoded`] for text already in its final storage.
    #[inline(always)]
    pub(crate) fn from_encoded_compact(text: CompactText) -> Self {
        Self(text)
    }

    /// The JSON text.
    ///
    /// ```
    /// use langfuse_runtime::JsonText;
    /// let text: JsonText = r#"{"a":1}"#.parse().unwrap();
    /// assert_eq!(text.as_str(), r#"{"a":1}"#);
    /// ```
    #[inline(always)]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The JSON text, owned.
    ///
    /// ```
    /// use langfuse_runtime::JsonText;
    /// let text: JsonText = "[1,2]".parse().unwrap();
    /// assert_eq!(text.into_string(), "[1,2]");
    /// ```
    pub fn into_string(self) -> String {
        self.0.into_string()
    }

    /// The heap buffer of the text, if it has one (short texts have none): what
    /// [`crate::recycle`] takes back.
    #[inline]
    pub(crate) fn into_buffer(self) -> Option<String> {
        self.0.into_buffer()
    }

    /// Deserializes the text into any type, e.g. `serde_json::Value`.
    ///
    /// ```
    /// use langfuse_runtime::JsonText;
    /// let text: JsonText = "[1,2,3]".parse().unwrap();
    /// assert_eq!(text.parse_as::<Vec<u8>>().unwrap(), vec![1, 2, 3]);
    /// ```
    pub fn parse_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.as_str())
    }

    /// The members of a JSON object in their order, each value as its own JSON text; `None`
    /// when the text is not an object.
    ///
    /// ```
    /// use langfuse_runtime::JsonText;
    /// let text: JsonText = r#"{"b":1,"a":[1,{"c":2}]}"#.parse().unwrap();
    /// let members = text.object_members().unwrap();
    /// assert_eq!(members[0].0, "b");
    /// assert_eq!(members[1].1.as_str(), r#"[1,{"c":2}]"#);
    /// assert!("[1]".parse::<JsonText>().unwrap().object_members().is_none());
    /// ```
    pub fn object_members(&self) -> Option<Vec<(String, JsonText)>> {
        struct Members;
        impl<'de> Visitor<'de> for Members {
            type Value = Vec<(String, JsonText)>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some((key, value)) = map.next_entry::<String, Box<RawValue>>()? {
                    members.push((key, JsonText(CompactText::copied(value.get()))));
                }
                Ok(members)
            }
        }
        let mut de = serde_json::Deserializer::from_str(self.as_str());
        serde::Deserializer::deserialize_map(&mut de, Members).ok()
    }
}

impl Deref for JsonText {
    type Target = str;
    #[inline(always)]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for JsonText {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for JsonText {
    type Err = serde_json::Error;

    /// Checks that `text` is one JSON value and keeps it as it is.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        serde_json::from_str::<serde::de::IgnoredAny>(text)?;
        Ok(Self(CompactText::copied(text)))
    }
}

impl PartialEq<str> for JsonText {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for JsonText {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for JsonText {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<JsonText> for String {
    fn eq(&self, other: &JsonText) -> bool {
        self == other.as_str()
    }
}

/// Unit tests write literal JSON; outside them text becomes `JsonText` only through the
/// encoder or a checked parse.
#[cfg(test)]
impl From<&str> for JsonText {
    fn from(text: &str) -> Self {
        text.parse().expect("test JSON")
    }
}

#[cfg(test)]
impl From<String> for JsonText {
    fn from(text: String) -> Self {
        text.parse().expect("test JSON")
    }
}

/// An observation's input or output: a string value is sent as its raw text, anything else as
/// compact JSON. The wire text is the same either way ([`Payload::as_str`]); the variant keeps
/// what the value was, so `"42"` the string and `42` the number stay apart.
///
/// ```
/// use langfuse_runtime::{JsonText, Payload};
/// let text = Payload::from("What is Langfuse?");
/// assert_eq!(&*text, "What is Langfuse?");
/// assert_eq!(text.to_value(), serde_json::json!("What is Langfuse?"));
///
/// let json = Payload::Json(r#"{"q":2}"#.parse::<JsonText>().unwrap());
/// assert_eq!(json.to_value(), serde_json::json!({"q": 2}));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Payload {
    /// A string value, sent as its raw text.
    Text(String),
    /// Any other value, as compact JSON.
    Json(JsonText),
}

impl Payload {
    /// The wire text.
    ///
    /// ```
    /// use langfuse_runtime::Payload;
    /// assert_eq!(Payload::from("hi").as_str(), "hi");
    /// assert_eq!(Payload::Json(r#"{"q":1}"#.parse().unwrap()).as_str(), r#"{"q":1}"#);
    /// ```
    #[inline(always)]
    pub fn as_str(&self) -> &str {
        match self {
            Self::Text(text) => text,
            Self::Json(json) => json.as_str(),
        }
    }

    /// Whether the value was something other than a string.
    ///
    /// ```
    /// use langfuse_runtime::Payload;
    /// assert!(!Payload::from("42").is_json());
    /// assert!(Payload::Json("42".parse().unwrap()).is_json());
    /// ```
    pub fn is_json(&self) -> bool {
        matches!(self, Self::Json(_))
    }

    /// The value: a JSON string for text, the parsed value for JSON (`Null` if the text were
    /// ever not JSON, which the SDK's encoder never produces).
    ///
    /// ```
    /// use langfuse_runtime::Payload;
    /// assert_eq!(Payload::from("42").to_value(), serde_json::json!("42"));
    /// assert_eq!(Payload::Json("42".parse().unwrap()).to_value(), serde_json::json!(42));
    /// ```
    pub fn to_value(&self) -> serde_json::Value {
        match self {
            Self::Text(text) => serde_json::Value::String(text.clone()),
            Self::Json(json) => json.parse_as().unwrap_or(serde_json::Value::Null),
        }
    }

    /// The wire text, owned.
    ///
    /// ```
    /// use langfuse_runtime::Payload;
    /// assert_eq!(Payload::Json("[1]".parse().unwrap()).into_string(), "[1]");
    /// ```
    pub fn into_string(self) -> String {
        match self {
            Self::Text(text) => text,
            Self::Json(json) => json.into_string(),
        }
    }

    /// The heap buffer of the wire text, if it has one (short JSON has none): what
    /// [`crate::recycle`] takes back.
    #[inline]
    pub(crate) fn into_buffer(self) -> Option<String> {
        match self {
            Self::Text(text) => Some(text),
            Self::Json(json) => json.into_buffer(),
        }
    }
}

impl Deref for Payload {
    type Target = str;
    #[inline(always)]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Payload {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<String> for Payload {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<&str> for Payload {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<JsonText> for Payload {
    fn from(json: JsonText) -> Self {
        Self::Json(json)
    }
}

impl PartialEq<str> for Payload {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Payload {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Payload {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<Payload> for String {
    fn eq(&self, other: &Payload) -> bool {
        self == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_members_keep_order_escaped_keys_and_raw_values() {
        let text: JsonText = r#"{"b":1,"a \"q\"":[1,{"c":2}],"z":"s"}"#.parse().unwrap();
        let members = text.object_members().unwrap();
        let flat: Vec<_> = members.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(flat, vec![("b", "1"), ("a \"q\"", r#"[1,{"c":2}]"#), ("z", "\"s\"")]);
        assert_eq!(JsonText::from_encoded("{}".into()).object_members(), Some(vec![]));
        assert_eq!(JsonText::from_encoded("\"x\"".into()).object_members(), None);
    }

    #[test]
    fn from_str_accepts_exactly_one_value() {
        assert!("1".parse::<JsonText>().is_ok());
        assert!("1 2".parse::<JsonText>().is_err());
        assert!("".parse::<JsonText>().is_err());
    }

    #[test]
    fn payload_kinds_share_the_wire_text_but_not_the_value() {
        let text = Payload::from("42");
        let number = Payload::Json(JsonText::from_encoded("42".into()));
        assert_eq!(text.as_str(), number.as_str());
        assert_ne!(text.to_value(), number.to_value());
        assert!(!text.is_json() && number.is_json());
    }
}
