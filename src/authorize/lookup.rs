//! Reading claims by dotted path, without building a JSON value of the claims.
//!
//! The claims type is the application's own. To read `realm_access.roles` out
//! of it, [`lookup`] serializes it into a [`Serializer`] of its own that walks
//! only the requested paths: a field whose name starts no path is never
//! serialized at all, and the value at the end of a path is handed to a
//! [`Visit`] as `&T: Serialize`, for the caller to read as it needs (for
//! example with [`each_str`], which borrows the strings without copying them).
//!
//! The view is that of `serde_json::to_value(&claims)`: structs and maps are
//! objects, `Option`, newtypes and `#[serde(flatten)]` are transparent, a
//! newtype or struct variant is `{"Variant": ...}`, and a key serialized twice
//! takes its last value. Arrays are not indexed by paths. Map keys are matched
//! as serde_json writes them (strings, chars, integers, booleans, unit
//! variants); float keys never match.

use std::fmt;

use serde::Serialize;
use serde::ser::{self, Impossible};

/// At most this many paths in one lookup: the active set is a `u64`.
pub(crate) const MAX_PATHS: usize = 64;

/// At most this many segments in one path, which bounds the lookup's recursion.
pub(crate) const MAX_SEGMENTS: usize = 32;

/// A claim path, such as `realm_access.roles`, split at its dots once.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Path {
    segments: Box<[Box<str>]>,
}

impl Path {
    /// Splits `text` at its dots. `None` when it is empty, has an empty segment
    /// (`a..b`, `.a`, `a.`) or more than [`MAX_SEGMENTS`] segments.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let segments: Box<[Box<str>]> = text.split('.').map(Box::from).collect();
        let valid = segments.iter().all(|s| !s.is_empty()) && segments.len() <= MAX_SEGMENTS;
        valid.then_some(Self { segments })
    }

    /// The value at this path in a JSON document: the view [`lookup`] has of
    /// a claims type, read from the claims as JSON (objects only; arrays are
    /// not indexed).
    pub(crate) fn find<'v>(&self, claims: &'v serde_json::Value) -> Option<&'v serde_json::Value> {
        self.segments
            .iter()
            .try_fold(claims, |value, segment| value.as_object()?.get(&**segment))
    }

    fn segment(&self, depth: usize) -> Option<&str> {
        self.segments.get(depth).map(|s| &**s)
    }

    fn ends_at(&self, depth: usize) -> bool {
        self.segments.len() == depth + 1
    }
}

impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.segments.join("."))
    }
}

/// What receives the values found at the paths of a [`lookup`].
pub(crate) trait Visit {
    /// `paths[index]` is being read again (a key serialized twice): forget
    /// what an earlier value said, the last one counts.
    fn reset(&mut self, index: usize);

    /// The value at `paths[index]`.
    fn found<T: Serialize + ?Sized>(&mut self, index: usize, value: &T);
}

/// Walks `claims` along `paths` (at most [`MAX_PATHS`]) and calls `visit` with
/// each value found. A path that leads nowhere (a missing key, or a value that
/// is not an object on the way) is simply not visited. Never fails: a
/// serialization error, from the claims type's own `Serialize`, only ends the
/// branch it happened in.
pub(crate) fn lookup<T, V>(claims: &T, paths: &[Path], visit: &mut V)
where
    T: Serialize + ?Sized,
    V: Visit,
{
    debug_assert!(paths.len() <= MAX_PATHS);
    let active = match paths.len() {
        0 => return,
        n if n >= MAX_PATHS => u64::MAX,
        n => (1 << n) - 1,
    };
    descend(claims, paths, active, 0, visit);
}

/// Walks `value`, at `depth`, along the `active` paths; where the walker cannot
/// follow the value's shape itself (enum variants with fields), through
/// `serde_json::Value`.
fn descend<T, V>(value: &T, paths: &[Path], active: u64, depth: usize, visit: &mut V)
where
    T: Serialize + ?Sized,
    V: Visit,
{
    let walker = Walker {
        paths,
        active,
        depth,
        visit: &mut *visit,
    };
    if let Err(Stop::Fallback) = value.serialize(walker)
        && let Ok(value) = serde_json::to_value(value)
    {
        let _ = value.serialize(Walker {
            paths,
            active,
            depth,
            visit,
        });
    }
}

/// Calls `f` with each string of `value`: the value itself when it is a
/// string, and, when `arrays` is true, each string element of an array (with
/// `true` as second argument). Anything else is ignored.
pub(crate) fn each_str<T, F>(value: &T, arrays: bool, f: &mut F)
where
    T: Serialize + ?Sized,
    F: FnMut(&str, bool),
{
    let _ = value.serialize(Strings {
        f,
        arrays,
        element: false,
    });
}

// ---------------------------------------------------------------------------
// The error: why a serializer stopped.
// ---------------------------------------------------------------------------

/// Why one of these serializers stopped early. Never escapes this module.
#[derive(Debug)]
enum Stop {
    /// Not what the walk is looking for here.
    Skip,
    /// A shape the walker reads through `serde_json::Value` instead.
    Fallback,
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("claim lookup stopped")
    }
}

impl std::error::Error for Stop {}

impl ser::Error for Stop {
    fn custom<M: fmt::Display>(_: M) -> Self {
        Self::Skip
    }
}

/// The `serialize_*` methods of values a serializer does not read.
macro_rules! skip {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Result<Self::Ok, Stop> { Err(Stop::Skip) })*
    };
}

/// The compound `serialize_*` methods a serializer does not read.
macro_rules! skip_compound {
    () => {
        fn serialize_tuple_struct(
            self,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleStruct, Stop> {
            Err(Stop::Skip)
        }

        fn serialize_tuple_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeTupleVariant, Stop> {
            Err(Stop::Skip)
        }

        fn serialize_struct_variant(
            self,
            _: &'static str,
            _: u32,
            _: &'static str,
            _: usize,
        ) -> Result<Self::SerializeStructVariant, Stop> {
            Err(Stop::Skip)
        }
    };
}

// ---------------------------------------------------------------------------
// The walker: objects along the paths.
// ---------------------------------------------------------------------------

/// Serializes a value at `depth` (0: the claims), looking for the `active`
/// paths (a bit per index into `paths`).
struct Walker<'a, V> {
    paths: &'a [Path],
    active: u64,
    depth: usize,
    visit: &'a mut V,
}

impl<V: Visit> Walker<'_, V> {
    /// The active paths whose segment at this depth is `key`.
    fn matching(&self, key: &str) -> u64 {
        bits(self.active)
            .filter(|&i| self.paths[i].segment(self.depth) == Some(key))
            .fold(0, |mask, i| mask | 1 << i)
    }

    /// One entry of an object: `value` under a key that starts the paths of `mask`.
    fn entry<T: Serialize + ?Sized>(&mut self, mask: u64, value: &T) {
        if mask == 0 {
            return;
        }
        let mut deeper = 0;
        for i in bits(mask) {
            self.visit.reset(i);
            if self.paths[i].ends_at(self.depth) {
                self.visit.found(i, value);
            } else {
                deeper |= 1 << i;
            }
        }
        if deeper != 0 {
            descend(value, self.paths, deeper, self.depth + 1, self.visit);
        }
    }
}

/// The indices of the bits set in `mask`, lowest first.
fn bits(mut mask: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (mask != 0).then(|| {
            let i = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            i
        })
    })
}

impl<'a, V: Visit> ser::Serializer for Walker<'a, V> {
    type Ok = ();
    type Error = Stop;
    type SerializeSeq = Impossible<(), Stop>;
    type SerializeTuple = Impossible<(), Stop>;
    type SerializeTupleStruct = Impossible<(), Stop>;
    type SerializeTupleVariant = Impossible<(), Stop>;
    type SerializeMap = Object<'a, V>;
    type SerializeStruct = Object<'a, V>;
    type SerializeStructVariant = Impossible<(), Stop>;

    skip!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Stop> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        value.serialize(self)
    }

    /// `{"variant": value}`.
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        let mask = self.matching(variant);
        self.entry(mask, value);
        Ok(())
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Stop> {
        Err(Stop::Skip)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Stop> {
        Err(Stop::Skip)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Object<'a, V>, Stop> {
        Ok(Object {
            walker: self,
            key: 0,
        })
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Object<'a, V>, Stop> {
        Ok(Object {
            walker: self,
            key: 0,
        })
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, Stop> {
        Err(Stop::Skip)
    }

    /// `{"variant": [...]}`: a path may end at the variant.
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Stop> {
        Err(Stop::Fallback)
    }

    /// `{"variant": {...}}`: a path may end at the variant or go through it.
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Stop> {
        Err(Stop::Fallback)
    }
}

/// A struct or map being walked; `key` holds the paths matched by the key of
/// the map entry whose value comes next.
struct Object<'a, V> {
    walker: Walker<'a, V>,
    key: u64,
}

impl<V: Visit> ser::SerializeStruct for Object<'_, V> {
    type Ok = ();
    type Error = Stop;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        let mask = self.walker.matching(key);
        self.walker.entry(mask, value);
        Ok(())
    }

    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}

impl<V: Visit> ser::SerializeMap for Object<'_, V> {
    type Ok = ();
    type Error = Stop;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Stop> {
        let walker = &self.walker;
        self.key = key
            .serialize(Key {
                matching: &|key| walker.matching(key),
            })
            .unwrap_or(0);
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        let mask = std::mem::take(&mut self.key);
        self.walker.entry(mask, value);
        Ok(())
    }

    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Map keys, as serde_json writes them.
// ---------------------------------------------------------------------------

/// Serializes a map key into the mask of the paths it matches.
struct Key<'m> {
    matching: &'m dyn Fn(&str) -> u64,
}

impl Key<'_> {
    fn display(self, key: impl fmt::Display) -> Result<u64, Stop> {
        Ok((self.matching)(&key.to_string()))
    }
}

impl ser::Serializer for Key<'_> {
    type Ok = u64;
    type Error = Stop;
    type SerializeSeq = Impossible<u64, Stop>;
    type SerializeTuple = Impossible<u64, Stop>;
    type SerializeTupleStruct = Impossible<u64, Stop>;
    type SerializeTupleVariant = Impossible<u64, Stop>;
    type SerializeMap = Impossible<u64, Stop>;
    type SerializeStruct = Impossible<u64, Stop>;
    type SerializeStructVariant = Impossible<u64, Stop>;

    skip!(
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
    );
    skip_compound!();

    fn serialize_str(self, key: &str) -> Result<u64, Stop> {
        Ok((self.matching)(key))
    }

    fn serialize_char(self, key: char) -> Result<u64, Stop> {
        Ok((self.matching)(key.encode_utf8(&mut [0; 4])))
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        key: &'static str,
    ) -> Result<u64, Stop> {
        Ok((self.matching)(key))
    }

    fn serialize_bool(self, key: bool) -> Result<u64, Stop> {
        self.display(key)
    }

    fn serialize_i8(self, key: i8) -> Result<u64, Stop> {
        self.display(key)
    }

    fn serialize_i16(self, key: i16) -> Result<u64, Stop> {
        self.display(key)
    }

    fn serialize_i32(self, key: i32) -> Result<u64, Stop> {
        self.display(key)
    }

    fn serialize_i64(self, key: i64) -> Result<u64, Stop> {
        self.display(key)
    }

    fn serialize_i128(self, key: i128) -> Result<u64, Stop> {
        self.display(key)
    }

    fn serialize_u8(self, key: u8) -> Result<u64, Stop> {
        self.display(key)
    }

    fn serialize_u16(self, key: u16) -> Result<u64, Stop> {
        self.display(key)
    }

    fn serialize_u32(self, key: u32) -> Result<u64, Stop> {
        self.display(key)
    }

    fn serialize_u64(self, key: u64) -> Result<u64, Stop> {
        self.display(key)
    }

    fn serialize_u128(self, key: u128) -> Result<u64, Stop> {
        self.display(key)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<u64, Stop> {
        Err(Stop::Skip)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        key: &T,
    ) -> Result<u64, Stop> {
        key.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<u64, Stop> {
        Err(Stop::Skip)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Stop> {
        Err(Stop::Skip)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Stop> {
        Err(Stop::Skip)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Stop> {
        Err(Stop::Skip)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Stop> {
        Err(Stop::Skip)
    }
}

// ---------------------------------------------------------------------------
// Strings, and arrays of strings.
// ---------------------------------------------------------------------------

/// Hands the strings of a value to `f`, borrowed.
struct Strings<'f, F> {
    f: &'f mut F,
    /// Whether an array is read (only at the top: arrays in arrays are not).
    arrays: bool,
    /// Whether this value is an element of the array.
    element: bool,
}

impl<'f, F: FnMut(&str, bool)> ser::Serializer for Strings<'f, F> {
    type Ok = ();
    type Error = Stop;
    type SerializeSeq = Elements<'f, F>;
    type SerializeTuple = Elements<'f, F>;
    type SerializeTupleStruct = Impossible<(), Stop>;
    type SerializeTupleVariant = Impossible<(), Stop>;
    type SerializeMap = Impossible<(), Stop>;
    type SerializeStruct = Impossible<(), Stop>;
    type SerializeStructVariant = Impossible<(), Stop>;

    skip!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
    );
    skip_compound!();

    fn serialize_str(self, s: &str) -> Result<(), Stop> {
        (self.f)(s, self.element);
        Ok(())
    }

    fn serialize_char(self, c: char) -> Result<(), Stop> {
        (self.f)(c.encode_utf8(&mut [0; 4]), self.element);
        Ok(())
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<(), Stop> {
        (self.f)(variant, self.element);
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Stop> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Stop> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Stop> {
        Err(Stop::Skip)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Elements<'f, F>, Stop> {
        if self.arrays && !self.element {
            Ok(Elements { f: self.f })
        } else {
            Err(Stop::Skip)
        }
    }

    fn serialize_tuple(self, len: usize) -> Result<Elements<'f, F>, Stop> {
        self.serialize_seq(Some(len))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Stop> {
        Err(Stop::Skip)
    }

    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Stop> {
        Err(Stop::Skip)
    }
}

/// The elements of an array of strings; other elements are ignored.
struct Elements<'f, F> {
    f: &'f mut F,
}

impl<F: FnMut(&str, bool)> ser::SerializeSeq for Elements<'_, F> {
    type Ok = ();
    type Error = Stop;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        let _ = value.serialize(Strings {
            f: &mut *self.f,
            arrays: false,
            element: true,
        });
        Ok(())
    }

    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}

impl<F: FnMut(&str, bool)> ser::SerializeTuple for Elements<'_, F> {
    type Ok = ();
    type Error = Stop;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Stop> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Stop> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use proptest::prelude::*;
    use serde::Serialize;
    use serde::ser::SerializeMap;
    use serde_json::{Value, json};

    use super::{MAX_SEGMENTS, Path, Visit, each_str, lookup};

    /// Records what was found, as JSON; a reset forgets it.
    #[derive(Default)]
    struct Record(HashMap<usize, Value>);

    impl Visit for Record {
        fn reset(&mut self, index: usize) {
            self.0.remove(&index);
        }

        fn found<T: Serialize + ?Sized>(&mut self, index: usize, value: &T) {
            self.0.insert(index, serde_json::to_value(value).unwrap());
        }
    }

    fn paths(texts: &[&str]) -> Vec<Path> {
        texts.iter().map(|t| Path::parse(t).unwrap()).collect()
    }

    fn found<T: Serialize + ?Sized>(claims: &T, texts: &[&str]) -> HashMap<usize, Value> {
        let mut record = Record::default();
        lookup(claims, &paths(texts), &mut record);
        record.0
    }

    /// What the lookup must find: the path followed through `to_value`.
    fn reference<T: Serialize + ?Sized>(claims: &T, texts: &[&str]) -> HashMap<usize, Value> {
        let Ok(value) = serde_json::to_value(claims) else {
            return HashMap::new();
        };
        texts
            .iter()
            .enumerate()
            .filter_map(|(i, text)| {
                let found = text
                    .split('.')
                    .try_fold(&value, |v, segment| v.as_object()?.get(segment))?;
                Some((i, found.clone()))
            })
            .collect()
    }

    #[test]
    fn paths_are_dotted_and_checked() {
        assert_eq!(Path::parse("realm_access.roles").unwrap().segments.len(), 2);
        assert!(Path::parse("roles").is_some());
        for bad in ["", ".", "a.", ".a", "a..b"] {
            assert!(Path::parse(bad).is_none(), "{bad:?}");
        }
        let deepest = vec!["a"; MAX_SEGMENTS].join(".");
        assert!(Path::parse(&deepest).is_some());
        assert!(Path::parse(&format!("{deepest}.a")).is_none());
    }

    #[derive(Serialize)]
    struct Realm {
        roles: Vec<String>,
        other: u32,
    }

    /// Serializing it fails the test: the lookup must never touch it.
    struct Untouchable;

    impl Serialize for Untouchable {
        fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
            panic!("a field on no path was serialized")
        }
    }

    #[derive(Serialize)]
    struct Typed {
        sub: String,
        scope: Option<String>,
        realm_access: Realm,
        big: Untouchable,
        #[serde(flatten)]
        extra: BTreeMap<String, Value>,
    }

    fn typed() -> Typed {
        Typed {
            sub: "ada".into(),
            scope: Some("a b".into()),
            realm_access: Realm {
                roles: vec!["admin".into()],
                other: 7,
            },
            big: Untouchable,
            extra: BTreeMap::from([("tenant".to_owned(), json!({ "id": 42 }))]),
        }
    }

    #[test]
    fn a_typed_struct_is_read_along_the_paths_only() {
        let found = found(
            &typed(),
            &[
                "scope",
                "realm_access.roles",
                "tenant.id",
                "missing",
                "sub.x",
            ],
        );
        assert_eq!(found.get(&0), Some(&json!("a b")));
        assert_eq!(found.get(&1), Some(&json!(["admin"])));
        assert_eq!(found.get(&2), Some(&json!(42)));
        assert_eq!(found.len(), 3, "{found:?}");
    }

    #[test]
    fn a_json_value_reads_like_a_typed_struct() {
        let claims = json!({
            "scope": "a b",
            "realm_access": { "roles": ["admin"], "other": 7 },
            "tenant": { "id": 42 },
        });
        let texts = [
            "scope",
            "realm_access.roles",
            "tenant.id",
            "missing",
            "scope.x",
        ];
        assert_eq!(found(&claims, &texts), reference(&claims, &texts));
        assert_eq!(found(&claims, &texts).len(), 3);
    }

    #[test]
    fn one_key_can_end_a_path_and_continue_another() {
        let claims = json!({ "a": { "b": { "c": 1 } } });
        let texts = ["a", "a.b", "a.b.c", "a.b.c.d"];
        let found = found(&claims, &texts);
        assert_eq!(found, reference(&claims, &texts));
        assert_eq!(found.len(), 3);
    }

    #[test]
    fn not_an_object_on_the_way_is_not_found() {
        for claims in [
            json!(1),
            json!("a"),
            json!(["a"]),
            json!(null),
            json!({ "a": [{ "b": 1 }] }),
        ] {
            assert!(found(&claims, &["a.b", "a.0.b"]).is_empty(), "{claims}");
        }
    }

    #[derive(Serialize)]
    enum Tagged {
        Newtype(Realm),
        Struct { roles: Vec<String> },
        Tuple(u8, u8),
    }

    #[derive(Serialize)]
    struct Wrapper(Option<Tagged>);

    #[test]
    fn enum_variants_read_as_serde_json_writes_them() {
        let cases = [
            Tagged::Newtype(Realm {
                roles: vec!["r".into()],
                other: 1,
            }),
            Tagged::Struct {
                roles: vec!["s".into()],
            },
            Tagged::Tuple(1, 2),
        ];
        let texts = [
            "Newtype.roles",
            "Struct.roles",
            "Struct",
            "Tuple",
            "Newtype",
        ];
        for case in cases {
            let claims = BTreeMap::from([("x", Wrapper(Some(case)))]);
            let texts: Vec<String> = texts.iter().map(|t| format!("x.{t}")).collect();
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            let found = found(&claims, &texts);
            assert_eq!(found, reference(&claims, &texts));
            assert!(!found.is_empty());
        }
    }

    /// A map that sends `scope` twice, as a hand-written `Serialize` may.
    struct Twice(&'static str, Value, Value);

    impl Serialize for Twice {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(None)?;
            map.serialize_entry(self.0, &self.1)?;
            map.serialize_entry(self.0, &self.2)?;
            map.end()
        }
    }

    #[test]
    fn a_key_sent_twice_takes_its_last_value() {
        let claims = Twice("scope", json!("first"), json!("last"));
        assert_eq!(found(&claims, &["scope"])[&0], json!("last"));
        // The second value has no `b`: nothing of the first is kept.
        let claims = Twice("a", json!({ "b": 1 }), json!({ "c": 2 }));
        let texts = ["a.b", "a.c"];
        assert_eq!(found(&claims, &texts), reference(&claims, &texts));
        assert_eq!(found(&claims, &texts).len(), 1);
    }

    #[test]
    fn map_keys_match_as_serde_json_writes_them() {
        let claims = BTreeMap::from([(7u32, "seven"), (42, "answer")]);
        assert_eq!(found(&claims, &["42"])[&0], json!("answer"));
        let claims = BTreeMap::from([('x', 1), ('y', 2)]);
        assert_eq!(found(&claims, &["y"])[&0], json!(2));
        let claims = BTreeMap::from([(true, 1)]);
        assert_eq!(found(&claims, &["true"])[&0], json!(1));
    }

    /// A `Serialize` that fails half-way: what came before stays found.
    struct Failing;

    impl Serialize for Failing {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let mut map = serializer.serialize_map(None)?;
            map.serialize_entry("a", "kept")?;
            Err(serde::ser::Error::custom("broken"))
        }
    }

    #[derive(Serialize)]
    struct WithFailing {
        f: Failing,
        g: u8,
    }

    #[test]
    fn a_failing_serialize_ends_only_its_branch() {
        assert_eq!(found(&Failing, &["a"])[&0], json!("kept"));
        let claims = WithFailing { f: Failing, g: 1 };
        let found = found(&claims, &["f.a", "g", "f.b"]);
        assert_eq!(found[&0], json!("kept"));
        assert_eq!(found[&1], json!(1));
        assert_eq!(found.len(), 2);
    }

    #[test]
    fn sixty_four_paths_are_all_read() {
        let claims: BTreeMap<String, usize> = (0..64).map(|i| (format!("k{i}"), i)).collect();
        let texts: Vec<String> = (0..64).map(|i| format!("k{i}")).collect();
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let found = found(&claims, &texts);
        assert_eq!(found.len(), 64);
        assert_eq!(found[&63], json!(63));
    }

    fn strings<T: Serialize + ?Sized>(value: &T, arrays: bool) -> Vec<(String, bool)> {
        let mut seen = Vec::new();
        each_str(value, arrays, &mut |s, element| {
            seen.push((s.to_owned(), element))
        });
        seen
    }

    #[test]
    fn strings_are_read_in_place_and_other_values_ignored() {
        assert_eq!(strings(&json!("a b"), false), [("a b".to_owned(), false)]);
        assert_eq!(strings(&json!("a b"), true), [("a b".to_owned(), false)]);
        assert!(strings(&json!(["a"]), false).is_empty());
        assert_eq!(
            strings(&json!(["a", 1, null, ["b"], { "c": "d" }, "e"]), true),
            [("a".to_owned(), true), ("e".to_owned(), true)]
        );
        for other in [json!(1), json!(true), json!(null), json!({ "a": "b" })] {
            assert!(strings(&other, true).is_empty(), "{other}");
        }
        assert_eq!(strings(&Some('x'), false), [("x".to_owned(), false)]);
        assert_eq!(strings(&("a", "b"), true).len(), 2);
    }

    /// JSON values a few levels deep, with keys from a small alphabet so that
    /// paths often lead somewhere.
    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[ab ]{0,3}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                prop::collection::btree_map("[abc]", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn the_lookup_finds_what_to_value_shows(
            claims in value(),
            texts in prop::collection::vec("[abc](\\.[abc]){0,3}", 1..6),
        ) {
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            prop_assert_eq!(found(&claims, &texts), reference(&claims, &texts));
        }
    }
}
