//! Numbers as the Python SDK's serializer sends them (wire format §3.5): integers outside
//! ±(2^53−1) become decimal strings, because the server parses JSON in JavaScript and would
//! silently round them; NaN and ±infinity, which JSON cannot hold (serde_json writes `null`),
//! become `"NaN"`, `"Infinity"` and `"-Infinity"`.
//!
//! [`Safe`] wraps a value and its serializer at every level of the tree, so the rule holds
//! inside sequences, maps, structs and enums too; everything else passes through unchanged.

use std::cell::Cell;

use serde::ser::{self, Serialize, Serializer};

/// Largest integer a JavaScript number holds exactly.
pub(crate) const MAX_SAFE: u64 = (1 << 53) - 1;

/// `value`, serialized with the rule above. `top` (the outermost value only) is set when that
/// value itself became a string, so that an input/output keeps the quotes, as Python does.
pub(crate) struct Safe<'a, T: ?Sized> {
    pub(crate) value: &'a T,
    pub(crate) top: Option<&'a Cell<bool>>,
}

impl<T: Serialize + ?Sized> Serialize for Safe<'_, T> {
    #[inline]
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(SafeSer { inner: serializer, top: self.top })
    }
}

#[inline]
fn nested<T: ?Sized>(value: &T) -> Safe<'_, T> {
    Safe { value, top: None }
}

struct SafeSer<'a, S> {
    inner: S,
    top: Option<&'a Cell<bool>>,
}

impl<S: Serializer> SafeSer<'_, S> {
    #[cold]
    fn write_as_string(self, text: &dyn std::fmt::Display) -> Result<S::Ok, S::Error> {
        if let Some(top) = self.top {
            top.set(true);
        }
        self.inner.collect_str(text)
    }

    fn float(self, value: f64) -> Result<S::Ok, S::Error> {
        let text = if value.is_nan() {
            "NaN"
        } else if value > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        };
        self.write_as_string(&text)
    }
}

/// The compound serializers, wrapping each element.
struct Compound<C>(C);

macro_rules! forward {
    ($($method:ident($ty:ty)),*) => {$(
        #[inline]
        fn $method(self, v: $ty) -> Result<S::Ok, S::Error> {
            self.inner.$method(v)
        }
    )*};
}

impl<S: Serializer> Serializer for SafeSer<'_, S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Compound<S::SerializeSeq>;
    type SerializeTuple = Compound<S::SerializeTuple>;
    type SerializeTupleStruct = Compound<S::SerializeTupleStruct>;
    type SerializeTupleVariant = Compound<S::SerializeTupleVariant>;
    type SerializeMap = Compound<S::SerializeMap>;
    type SerializeStruct = Compound<S::SerializeStruct>;
    type SerializeStructVariant = Compound<S::SerializeStructVariant>;

    forward!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str)
    );

    #[inline]
    fn serialize_i64(self, v: i64) -> Result<S::Ok, S::Error> {
        if v.unsigned_abs() <= MAX_SAFE {
            self.inner.serialize_i64(v)
        } else {
            self.write_as_string(&v)
        }
    }
    #[inline]
    fn serialize_u64(self, v: u64) -> Result<S::Ok, S::Error> {
        if v <= MAX_SAFE { self.inner.serialize_u64(v) } else { self.write_as_string(&v) }
    }
    fn serialize_i128(self, v: i128) -> Result<S::Ok, S::Error> {
        if v.unsigned_abs() <= u128::from(MAX_SAFE) {
            self.inner.serialize_i64(v as i64)
        } else {
            self.write_as_string(&v)
        }
    }
    fn serialize_u128(self, v: u128) -> Result<S::Ok, S::Error> {
        if v <= u128::from(MAX_SAFE) {
            self.inner.serialize_u64(v as u64)
        } else {
            self.write_as_string(&v)
        }
    }
    #[inline]
    fn serialize_f32(self, v: f32) -> Result<S::Ok, S::Error> {
        if v.is_finite() { self.inner.serialize_f32(v) } else { self.float(f64::from(v)) }
    }
    #[inline]
    fn serialize_f64(self, v: f64) -> Result<S::Ok, S::Error> {
        if v.is_finite() { self.inner.serialize_f64(v) } else { self.float(v) }
    }
    #[inline]
    fn serialize_none(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_none()
    }
    #[inline]
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        // `Some(x)` is `x` on the wire: it is still the outermost value.
        self.inner.serialize_some(&Safe { value, top: self.top })
    }
    #[inline]
    fn serialize_unit(self) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit()
    }
    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<S::Ok, S::Error> {
        self.inner.serialize_unit_variant(name, index, variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.inner.serialize_newtype_struct(name, &Safe { value, top: self.top })
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.inner.serialize_newtype_variant(name, index, variant, &nested(value))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, S::Error> {
        self.inner.serialize_seq(len).map(Compound)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, S::Error> {
        self.inner.serialize_tuple(len).map(Compound)
    }
    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, S::Error> {
        self.inner.serialize_tuple_struct(name, len).map(Compound)
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, S::Error> {
        self.inner.serialize_tuple_variant(name, index, variant, len).map(Compound)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, S::Error> {
        self.inner.serialize_map(len).map(Compound)
    }
    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        self.inner.serialize_struct(name, len).map(Compound)
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, S::Error> {
        self.inner.serialize_struct_variant(name, index, variant, len).map(Compound)
    }
    fn collect_str<T: std::fmt::Display + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.inner.collect_str(value)
    }
    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

macro_rules! compound {
    ($($trait:ident::$method:ident),*) => {$(
        impl<C: ser::$trait> ser::$trait for Compound<C> {
            type Ok = C::Ok;
            type Error = C::Error;
            #[inline]
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
                self.0.$method(&nested(value))
            }
            #[inline]
            fn end(self) -> Result<C::Ok, C::Error> {
                self.0.end()
            }
        }
    )*};
}

compound!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl<C: ser::SerializeMap> ser::SerializeMap for Compound<C> {
    type Ok = C::Ok;
    type Error = C::Error;
    #[inline]
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), C::Error> {
        self.0.serialize_key(&nested(key))
    }
    #[inline]
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), C::Error> {
        self.0.serialize_value(&nested(value))
    }
    #[inline]
    fn end(self) -> Result<C::Ok, C::Error> {
        self.0.end()
    }
}

macro_rules! fields {
    ($($trait:ident),*) => {$(
        impl<C: ser::$trait> ser::$trait for Compound<C> {
            type Ok = C::Ok;
            type Error = C::Error;
            #[inline]
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), C::Error> {
                self.0.serialize_field(key, &nested(value))
            }
            #[inline]
            fn skip_field(&mut self, key: &'static str) -> Result<(), C::Error> {
                self.0.skip_field(key)
            }
            #[inline]
            fn end(self) -> Result<C::Ok, C::Error> {
                self.0.end()
            }
        }
    )*};
}

fields!(SerializeStruct, SerializeStructVariant);
