//! The `sw8` header: Cross Process Propagation Headers Protocol v3.
//!
//! ```text
//! sw8: 1-<b64 trace id>-<b64 parent segment id>-3-<b64 parent service>-<b64 parent instance>-<b64 parent endpoint>-<b64 address used at client>
//! ```

use std::fmt;
use std::str::FromStr;

use super::HeaderError;
use super::b64;

/// Header name of the SkyWalking v3 propagation header.
pub const SW8: &str = "sw8";

/// Cap on a whole `sw8` value, in bytes. The spec says the value "must be less than
/// 2k"; the Java agent's default is the same.
pub const SW8_MAX_LEN: usize = 2048;

/// Cap on the decoded trace id and parent segment id, in bytes.
///
/// OAP stores ids in 150-character columns. The official agents write 32 to 56
/// ASCII characters (Java and Go `<uuid>.<thread>.<time+seq>`, Python uuid1 hex, Rust
/// decimal `u128`).
pub const SW8_MAX_ID_LEN: usize = 150;

/// Cap on the decoded parent service name, in bytes.
///
/// The spec allows 50 UTF-8 characters, which is at most 150 bytes for any text in
/// the Basic Multilingual Plane; OAP truncates service names at 70 characters.
pub const SW8_MAX_SERVICE_LEN: usize = 150;

/// Cap on the decoded parent service instance name, in bytes (same reasoning as
/// [`SW8_MAX_SERVICE_LEN`]; the default Java and Go names are `<uuid>@<ipv4>`, under
/// 55 bytes).
pub const SW8_MAX_INSTANCE_LEN: usize = 150;

/// Cap on the decoded parent endpoint, in bytes.
///
/// The spec allows fewer than 150 UTF-8 characters; agents (this one and Java) cut
/// operation names at 150 characters, which is at most 600 bytes of UTF-8. The Python
/// and Node agents put their *exit* span name here, often a raw URL path.
pub const SW8_MAX_ENDPOINT_LEN: usize = 600;

/// Cap on the decoded target address used at the client, in bytes: a 255-byte DNS
/// name, a port and room to spare.
pub const SW8_MAX_ADDRESS_LEN: usize = 300;

const FIELD_TRACE_ID: &str = "trace id";
const FIELD_SEGMENT_ID: &str = "parent segment id";
const FIELD_SERVICE: &str = "parent service";
const FIELD_INSTANCE: &str = "parent service instance";
const FIELD_ENDPOINT: &str = "parent endpoint";
const FIELD_ADDRESS: &str = "address used at client";

/// A decoded `sw8` header: the reference to the caller's segment.
///
/// Decode with [`Sw8::decode`] (or `str::parse`), encode with [`Sw8::encode`]. To
/// encode from borrowed fields without building a `Sw8`, use [`Sw8Ref`].
///
/// # Decoding rules
///
/// [`Sw8::decode`] accepts what the official Java, Go, Python, Node and Rust agents
/// write, and rejects (with a [`HeaderError`] naming the problem):
///
/// - a value over [`SW8_MAX_LEN`] bytes (checked first, before any other work);
/// - any number of `-`-separated fields other than exactly 8. SkyWalking renames
///   the header when its layout changes (`sw3`, `sw6`, `sw8`), so extra fields mean a
///   corrupt value, most likely a URL-safe Base64 `-` inside a field. Java (whose
///   `split("-", 8)` leaves a `-` in field 8, which then fails Base64), Python and the
///   Rust crate reject it too. (Go and Node ignore the extra fields.)
/// - a sample flag other than `0` or `1`;
/// - a parent span id that is not plain ASCII digits in `0..=i32::MAX` (no sign);
/// - a field that is not Base64, or not UTF-8 once decoded. Standard and URL-safe
///   alphabets, padded or unpadded, are all accepted, as the Node agent does;
/// - an empty field: trace id, parent segment id, parent service, parent service
///   instance, parent endpoint or address. The Java agent's `ContextCarrier.isValid`
///   rejects each of these, so we do too: the Node agent writes an empty address when
///   it has none, and such a header starts a new trace here as it would in Java;
/// - a field over its cap: [`SW8_MAX_ID_LEN`], [`SW8_MAX_SERVICE_LEN`],
///   [`SW8_MAX_INSTANCE_LEN`], [`SW8_MAX_ENDPOINT_LEN`], [`SW8_MAX_ADDRESS_LEN`]
///   (decoded bytes; checked on the encoded length before decoding). A header whose
///   fields are all at their caps still fits in [`SW8_MAX_LEN`].
///
/// Field 7 is taken as is: the spec says "the parent segment's first entry span
/// name", the Python and Node agents send their exit span name.
///
/// ```
/// use skywalking_runtime::propagation::Sw8;
///
/// let sw8: Sw8 = "1-dHJhY2U=-c2VnbWVudA==-3-c3Zj-aW5zdGFuY2U=-L2NoZWNrb3V0-cGF5OjgwODA="
///     .parse()?;
/// assert_eq!(sw8.trace_id, "trace");
/// assert_eq!(sw8.parent_span_id, 3);
/// assert_eq!(sw8.parent_endpoint, "/checkout");
/// assert_eq!(sw8.address_used_at_client, "pay:8080");
/// # Ok::<(), skywalking_runtime::propagation::HeaderError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Sw8 {
    /// Field 1: `true` for `1` ("this trace must be sampled"), `false` for `0`. The
    /// Java and Go agents force sampling whenever a valid header arrives, whatever
    /// this says.
    pub sample: bool,
    /// Field 2: the trace id.
    pub trace_id: String,
    /// Field 3: the caller's segment id.
    pub parent_segment_id: String,
    /// Field 4: the id of the caller's exit span, within its segment.
    pub parent_span_id: i32,
    /// Field 5: the caller's service name.
    pub parent_service: String,
    /// Field 6: the caller's service instance name.
    pub parent_service_instance: String,
    /// Field 7: the caller segment's first entry span name (its endpoint).
    pub parent_endpoint: String,
    /// Field 8: the address the caller used to reach this process. It becomes the
    /// `networkAddressUsedAtPeer` of the child's segment reference.
    pub address_used_at_client: String,
}

/// The fields of an `sw8` header, borrowed: what the encoder takes.
///
/// Build one from the live span context and call [`Sw8Ref::encode`], which writes
/// the header into one `String` allocated at its exact final size.
///
/// # Encoding rules
///
/// The output is what the spec asks for: sample flag `1`/`0` as given, text fields in
/// standard padded Base64. Fields are written as given; the caller provides non-empty
/// fields within the caps (see [`Sw8Ref::validate`]), and field 7 should be the
/// current segment's first entry span name. A negative `parent_span_id` (which no
/// real span has) would produce an undecodable header, so it is written as `0`.
///
/// ```
/// use skywalking_runtime::propagation::{Sw8, Sw8Ref};
///
/// let header = Sw8Ref {
///     sample: true,
///     trace_id: "trace",
///     parent_segment_id: "segment",
///     parent_span_id: 3,
///     parent_service: "svc",
///     parent_service_instance: "instance",
///     parent_endpoint: "/checkout",
///     address_used_at_client: "pay:8080",
/// }
/// .encode();
/// assert_eq!(header, "1-dHJhY2U=-c2VnbWVudA==-3-c3Zj-aW5zdGFuY2U=-L2NoZWNrb3V0-cGF5OjgwODA=");
/// assert_eq!(Sw8::decode(&header)?.parent_service, "svc");
/// # Ok::<(), skywalking_runtime::propagation::HeaderError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sw8Ref<'a> {
    /// Field 1: the sample flag.
    pub sample: bool,
    /// Field 2: the trace id.
    pub trace_id: &'a str,
    /// Field 3: this segment's id (the parent segment, seen from the callee).
    pub parent_segment_id: &'a str,
    /// Field 4: the id of the exit span making the call.
    pub parent_span_id: i32,
    /// Field 5: this service's name.
    pub parent_service: &'a str,
    /// Field 6: this service instance's name.
    pub parent_service_instance: &'a str,
    /// Field 7: the name of this segment's first entry span.
    pub parent_endpoint: &'a str,
    /// Field 8: the address used to reach the callee (the exit span's peer).
    pub address_used_at_client: &'a str,
}

impl Sw8 {
    /// Decodes an `sw8` value. See the [type docs](Sw8#decoding-rules) for what is
    /// accepted and rejected.
    ///
    /// Same result as [`Sw8Header::parse`] followed by [`Sw8Header::to_sw8`], in one
    /// walk over the value: each field is found, checked and decoded by the same loop,
    /// then copied into its own `String`. A rejected value is checked again field by
    /// field to name the problem.
    ///
    /// # Errors
    ///
    /// A [`HeaderError`] naming the first problem found.
    pub fn decode(value: &str) -> Result<Self, HeaderError> {
        let mut sw8 = Sw8::default();
        if sw8.walk_into(value) {
            Ok(sw8)
        } else {
            decode_by_field(value)
        }
    }

    /// Decodes an `sw8` value into `self`, reusing its strings: the same checks and
    /// result as [`Sw8::decode`], and no allocation once the strings have grown to
    /// the fields they receive (a server decoding every request's header into one
    /// `Sw8` allocates nothing in steady state).
    ///
    /// ```
    /// use skywalking_runtime::propagation::Sw8;
    ///
    /// let mut sw8 = Sw8::default();
    /// sw8.decode_from("1-dHJhY2U=-c2VnbWVudA==-3-c3Zj-aW5zdGFuY2U=-L2NoZWNrb3V0-cGF5OjgwODA=")?;
    /// assert_eq!(sw8.parent_endpoint, "/checkout");
    /// # Ok::<(), skywalking_runtime::propagation::HeaderError>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`HeaderError`] naming the first problem found, as [`Sw8::decode`]. `self`
    /// then holds some fields of the rejected value, or of what it held before: read
    /// nothing from it.
    pub fn decode_from(&mut self, value: &str) -> Result<(), HeaderError> {
        if self.walk_into(value) {
            return Ok(());
        }
        let fields = Sw8Fields::split(value)?;
        fields.decode_string(Text::TraceId, &mut self.trace_id)?;
        fields.decode_string(Text::SegmentId, &mut self.parent_segment_id)?;
        fields.decode_string(Text::Service, &mut self.parent_service)?;
        fields.decode_string(Text::Instance, &mut self.parent_service_instance)?;
        fields.decode_string(Text::Endpoint, &mut self.parent_endpoint)?;
        fields.decode_string(Text::Address, &mut self.address_used_at_client)?;
        self.sample = fields.sample;
        self.parent_span_id = fields.parent_span_id;
        Ok(())
    }

    /// [`walk`]s `value` into `self`'s strings; whether it was valid.
    fn walk_into(&mut self, value: &str) -> bool {
        // The texts of a value decode to at most 3/4 of its length; most values are
        // short, and a smaller buffer is cheaper to clear.
        if value.len() <= SMALL_VALUE {
            self.walk_into_buf(value, &mut [0u8; SMALL_VALUE / 4 * 3])
        } else {
            self.walk_into_buf(value, &mut [0u8; SW8_MAX_LEN / 4 * 3])
        }
    }

    /// [`walk_into`](Self::walk_into) with the texts decoded side by side into `buf`
    /// (room for 3/4 of `value`'s length), so that one `str::from_utf8` checks them
    /// all: the call and its short tails cost more than the bytes on six short texts.
    #[inline]
    fn walk_into_buf(&mut self, value: &str, buf: &mut [u8]) -> bool {
        let mut lens = [0usize; 6];
        let Some((sample, parent_span_id)) = walk_in::<true>(value, buf, |field, bytes, _| {
            lens[field.index()] = bytes.len();
            true
        }) else {
            return false;
        };
        let total = lens.iter().sum::<usize>();
        // The concatenation is UTF-8 and each text starts and ends on a character
        // boundary exactly when every text is UTF-8 on its own.
        let Some(Ok(texts)) = buf.get(..total).map(std::str::from_utf8) else {
            return false;
        };
        let mut rest = texts;
        for (len, out) in lens.into_iter().zip([
            &mut self.trace_id,
            &mut self.parent_segment_id,
            &mut self.parent_service,
            &mut self.parent_service_instance,
            &mut self.parent_endpoint,
            &mut self.address_used_at_client,
        ]) {
            let Some((text, tail)) = rest.split_at_checked(len) else {
                return false;
            };
            out.clear();
            out.push_str(text);
            rest = tail;
        }
        self.sample = sample;
        self.parent_span_id = parent_span_id;
        true
    }

    /// Borrows the fields, for [`Sw8Ref::encode`] and friends.
    #[must_use]
    pub fn view(&self) -> Sw8Ref<'_> {
        Sw8Ref {
            sample: self.sample,
            trace_id: &self.trace_id,
            parent_segment_id: &self.parent_segment_id,
            parent_span_id: self.parent_span_id,
            parent_service: &self.parent_service,
            parent_service_instance: &self.parent_service_instance,
            parent_endpoint: &self.parent_endpoint,
            address_used_at_client: &self.address_used_at_client,
        }
    }

    /// Encodes the header value. Same as `self.view().encode()`.
    #[must_use]
    pub fn encode(&self) -> String {
        self.view().encode()
    }
}

/// [`Sw8::decode`] a field at a time: the value split and its plain fields checked
/// first, then each text field checked while it is decoded ([`Sw8Fields`]). Errors come
/// in the order the type docs give.
#[cold]
fn decode_by_field(value: &str) -> Result<Sw8, HeaderError> {
    let fields = Sw8Fields::split(value)?;
    let text = |field| {
        let mut out = String::new();
        fields.decode_string(field, &mut out).map(|()| out)
    };
    Ok(Sw8 {
        sample: fields.sample,
        trace_id: text(Text::TraceId)?,
        parent_segment_id: text(Text::SegmentId)?,
        parent_span_id: fields.parent_span_id,
        parent_service: text(Text::Service)?,
        parent_service_instance: text(Text::Instance)?,
        parent_endpoint: text(Text::Endpoint)?,
        address_used_at_client: text(Text::Address)?,
    })
}

impl FromStr for Sw8 {
    type Err = HeaderError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Sw8::decode(s)
    }
}

/// An `sw8` value checked by [`Sw8Header::parse`], borrowed from the header: the text
/// fields are still in Base64 and are decoded when read.
///
/// Parsing applies every rule of [`Sw8::decode`] (Base64, UTF-8, every cap) without
/// allocating, so a malformed header costs nothing and a valid one is decoded only
/// into what keeps it: [`Base64Field::with_decoded`] lends a field's text from a stack
/// buffer, [`Base64Field::decode_into`] appends it to a reused `String`,
/// [`Sw8Header::to_sw8`] makes an owned [`Sw8`].
///
/// ```
/// use skywalking_runtime::propagation::Sw8Header;
///
/// let header = Sw8Header::parse(
///     "1-dHJhY2U=-c2VnbWVudA==-3-c3Zj-aW5zdGFuY2U=-L2NoZWNrb3V0-cGF5OjgwODA=",
/// )?;
/// assert_eq!(header.parent_span_id(), 3);
/// assert!(header.parent_endpoint() == "/checkout");
/// assert_eq!(header.trace_id().with_decoded(str::len), 5);
/// let mut endpoint = String::with_capacity(64);
/// header.parent_endpoint().decode_into(&mut endpoint);
/// assert_eq!(endpoint, "/checkout");
/// assert_eq!(header.to_sw8().address_used_at_client, "pay:8080");
/// # Ok::<(), skywalking_runtime::propagation::HeaderError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Sw8Header<'a> {
    sample: bool,
    trace_id: Base64Field<'a>,
    parent_segment_id: Base64Field<'a>,
    parent_span_id: i32,
    parent_service: Base64Field<'a>,
    parent_service_instance: Base64Field<'a>,
    parent_endpoint: Base64Field<'a>,
    address_used_at_client: Base64Field<'a>,
}

/// A text field of an [`Sw8Header`]: valid Base64 of UTF-8 text within the field's
/// cap, decoded when read.
///
/// Comparing it with a `str` (`field == "text"`) decodes nothing into the heap.
#[derive(Clone, Copy)]
pub struct Base64Field<'a> {
    /// The symbols, padding cut off, all of one alphabet.
    symbols: &'a str,
    /// Whether the decoded text is ASCII.
    ascii: bool,
}

/// The largest decoded field: the parent endpoint's cap.
const MAX_FIELD_LEN: usize = SW8_MAX_ENDPOINT_LEN;

impl<'a> Sw8Header<'a> {
    /// Checks an `sw8` value against the rules of [`Sw8::decode`] (see the [type
    /// docs](Sw8#decoding-rules)) without allocating.
    ///
    /// # Errors
    ///
    /// A [`HeaderError`] naming the first problem found, the same one
    /// [`Sw8::decode`] returns.
    pub fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let Sw8Fields {
            sample,
            parent_span_id,
            texts: [trace_id, segment_id, service, instance, endpoint, address],
        } = Sw8Fields::split(value)?;
        Ok(Sw8Header {
            sample,
            trace_id: Base64Field::parse(trace_id, Text::TraceId)?,
            parent_segment_id: Base64Field::parse(segment_id, Text::SegmentId)?,
            parent_span_id,
            parent_service: Base64Field::parse(service, Text::Service)?,
            parent_service_instance: Base64Field::parse(instance, Text::Instance)?,
            parent_endpoint: Base64Field::parse(endpoint, Text::Endpoint)?,
            address_used_at_client: Base64Field::parse(address, Text::Address)?,
        })
    }

    /// Field 1: the sample flag (see [`Sw8::sample`]).
    #[must_use]
    pub fn sample(&self) -> bool {
        self.sample
    }

    /// Field 2: the trace id.
    #[must_use]
    pub fn trace_id(&self) -> Base64Field<'a> {
        self.trace_id
    }

    /// Field 3: the caller's segment id.
    #[must_use]
    pub fn parent_segment_id(&self) -> Base64Field<'a> {
        self.parent_segment_id
    }

    /// Field 4: the id of the caller's exit span, within its segment.
    #[must_use]
    pub fn parent_span_id(&self) -> i32 {
        self.parent_span_id
    }

    /// Field 5: the caller's service name.
    #[must_use]
    pub fn parent_service(&self) -> Base64Field<'a> {
        self.parent_service
    }

    /// Field 6: the caller's service instance name.
    #[must_use]
    pub fn parent_service_instance(&self) -> Base64Field<'a> {
        self.parent_service_instance
    }

    /// Field 7: the caller segment's first entry span name (its endpoint).
    #[must_use]
    pub fn parent_endpoint(&self) -> Base64Field<'a> {
        self.parent_endpoint
    }

    /// Field 8: the address the caller used to reach this process.
    #[must_use]
    pub fn address_used_at_client(&self) -> Base64Field<'a> {
        self.address_used_at_client
    }

    /// Decodes every field into an owned [`Sw8`] (one exactly sized `String` each).
    #[must_use]
    pub fn to_sw8(&self) -> Sw8 {
        Sw8 {
            sample: self.sample,
            trace_id: self.trace_id.decode_to_string(),
            parent_segment_id: self.parent_segment_id.decode_to_string(),
            parent_span_id: self.parent_span_id,
            parent_service: self.parent_service.decode_to_string(),
            parent_service_instance: self.parent_service_instance.decode_to_string(),
            parent_endpoint: self.parent_endpoint.decode_to_string(),
            address_used_at_client: self.address_used_at_client.decode_to_string(),
        }
    }
}

impl<'a> Base64Field<'a> {
    /// Checks a non-empty Base64 field of at most `text.max()` decoded bytes of UTF-8.
    #[inline]
    fn parse(encoded: &'a str, text: Text) -> Result<Self, HeaderError> {
        let (field, max) = (text.name(), text.max());
        text.check_encoded(encoded)?;
        let Some(scanned) = b64::scan(encoded) else {
            return Err(HeaderError::InvalidBase64 { header: SW8, field });
        };
        let this = Base64Field {
            symbols: scanned.symbols,
            ascii: scanned.ascii,
        };
        if this.decoded_len() > max {
            return Err(HeaderError::FieldTooLong {
                header: SW8,
                field,
                max,
            });
        }
        if !scanned.ascii && !this.is_utf8() {
            return Err(HeaderError::InvalidUtf8 { header: SW8, field });
        }
        Ok(this)
    }

    /// Whether the decoded bytes are UTF-8 (the field is within [`MAX_FIELD_LEN`]).
    #[cold]
    fn is_utf8(self) -> bool {
        let mut buf = [0u8; MAX_FIELD_LEN];
        let len = b64::decode_symbols(self.symbols.as_bytes(), &mut buf);
        std::str::from_utf8(&buf[..len]).is_ok()
    }

    /// The Base64 text as it came (without its padding).
    #[must_use]
    pub fn encoded(&self) -> &'a str {
        self.symbols
    }

    /// The length of the decoded text, in bytes.
    #[must_use]
    pub fn decoded_len(&self) -> usize {
        b64::decoded_len(self.symbols.len())
    }

    /// Calls `f` with the decoded text, held in a buffer on the stack: no allocation.
    pub fn with_decoded<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        // Ids and names fit the small buffer, which is cheaper to clear.
        if self.decoded_len() <= SW8_MAX_ID_LEN {
            self.decode_in(&mut [0u8; SW8_MAX_ID_LEN], f)
        } else {
            self.decode_in(&mut [0u8; MAX_FIELD_LEN], f)
        }
    }

    #[inline]
    fn decode_in<R>(&self, buf: &mut [u8], f: impl FnOnce(&str) -> R) -> R {
        let len = b64::decode_symbols(self.symbols.as_bytes(), buf);
        // Checked when parsed: always UTF-8.
        f(std::str::from_utf8(&buf[..len]).unwrap_or_default())
    }

    /// Appends the decoded text to `out`. Allocates nothing if `out` has
    /// [`decoded_len`](Self::decoded_len) bytes of spare capacity.
    pub fn decode_into(&self, out: &mut String) {
        out.reserve(self.decoded_len());
        if !self.ascii {
            self.with_decoded(|text| out.push_str(text));
            return;
        }
        // ASCII: any cut is a character boundary, so decode a chunk at a time through a
        // small buffer.
        let mut buf = [0u8; 48];
        for symbols in self.symbols.as_bytes().chunks(64) {
            let len = b64::decode_symbols(symbols, &mut buf);
            out.push_str(std::str::from_utf8(&buf[..len]).unwrap_or_default());
        }
    }

    /// The decoded text in a new `String` of exactly [`decoded_len`](Self::decoded_len)
    /// bytes (one allocation).
    #[must_use]
    pub fn decode_to_string(&self) -> String {
        let mut out = String::with_capacity(self.decoded_len());
        self.decode_into(&mut out);
        out
    }
}

impl fmt::Display for Base64Field<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_decoded(|text| f.write_str(text))
    }
}

impl fmt::Debug for Base64Field<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.with_decoded(|text| fmt::Debug::fmt(text, f))
    }
}

impl PartialEq<str> for Base64Field<'_> {
    fn eq(&self, other: &str) -> bool {
        self.decoded_len() == other.len() && self.with_decoded(|text| text == other)
    }
}

impl PartialEq<&str> for Base64Field<'_> {
    fn eq(&self, other: &&str) -> bool {
        *self == **other
    }
}

/// A text field of `sw8`: its name in errors and its cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Text {
    TraceId,
    SegmentId,
    Service,
    Instance,
    Endpoint,
    Address,
}

/// Room for a decoded trace or segment id: [`Sw8Fields::decode_str`]'s buffer.
pub(crate) const ID_ROOM: usize = SW8_MAX_ID_LEN;

impl Text {
    fn name(self) -> &'static str {
        match self {
            Text::TraceId => FIELD_TRACE_ID,
            Text::SegmentId => FIELD_SEGMENT_ID,
            Text::Service => FIELD_SERVICE,
            Text::Instance => FIELD_INSTANCE,
            Text::Endpoint => FIELD_ENDPOINT,
            Text::Address => FIELD_ADDRESS,
        }
    }

    fn max(self) -> usize {
        match self {
            Text::TraceId | Text::SegmentId => SW8_MAX_ID_LEN,
            Text::Service => SW8_MAX_SERVICE_LEN,
            Text::Instance => SW8_MAX_INSTANCE_LEN,
            Text::Endpoint => SW8_MAX_ENDPOINT_LEN,
            Text::Address => SW8_MAX_ADDRESS_LEN,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    /// The checks on the encoded text, before any Base64: not empty, not longer than
    /// the cap's encoding.
    #[inline]
    fn check_encoded(self, encoded: &str) -> Result<(), HeaderError> {
        if encoded.is_empty() {
            return Err(HeaderError::EmptyField {
                header: SW8,
                field: self.name(),
            });
        }
        if encoded.len() > b64::encoded_len(self.max()) {
            return Err(self.too_long());
        }
        Ok(())
    }

    fn too_long(self) -> HeaderError {
        HeaderError::FieldTooLong {
            header: SW8,
            field: self.name(),
            max: self.max(),
        }
    }

    /// Checks `encoded` and decodes it into the front of `out` in one pass: the length
    /// decoded and whether it is ASCII. `out` has room for [`b64::decoded_len`] of the
    /// encoded length (at most the cap rounded up to 3 bytes once the encoded length is
    /// checked). Every check but UTF-8, which the caller makes (no need for ASCII).
    #[inline]
    fn decode(self, encoded: &str, out: &mut [u8]) -> Result<(usize, bool), HeaderError> {
        self.check_encoded(encoded)?;
        let Some((len, ascii)) = b64::decode_checked(encoded.as_bytes(), out) else {
            return Err(HeaderError::InvalidBase64 {
                header: SW8,
                field: self.name(),
            });
        };
        if len > self.max() {
            return Err(self.too_long());
        }
        Ok((len, ascii))
    }

    fn not_utf8(self) -> HeaderError {
        HeaderError::InvalidUtf8 {
            header: SW8,
            field: self.name(),
        }
    }
}

/// Decodes an `sw8` value in one walk over it: each text field is found, checked and
/// decoded by the same loop (no separate search for the `-` between fields), into a
/// buffer on the stack, and handed to `text` with whether it is ASCII (its UTF-8 check
/// is `text`'s; return `false` to reject). The sample flag and span id when the value
/// is valid; `None` when anything is wrong, without saying what: a caller that wants
/// the error runs the checks again with [`Sw8Fields`] (errors are rare, and their
/// order is [`Sw8::decode`]'s).
///
/// The fields go to `text` in order until one is rejected: a `None` may come after
/// some fields were handed over.
#[inline]
pub(crate) fn walk(
    value: &str,
    text: impl FnMut(Text, &[u8], bool) -> bool,
) -> Option<(bool, i32)> {
    // Room for the largest field (all caps are multiples of 3).
    walk_in::<false>(value, &mut [0u8; MAX_FIELD_LEN], text)
}

// [`walk_in`] checks the decoded length of a text only: within a cap that is a multiple
// of 3, the encoded text is within the cap's encoding too.
const _: () = assert!(
    SW8_MAX_ID_LEN.is_multiple_of(3)
        && SW8_MAX_SERVICE_LEN.is_multiple_of(3)
        && SW8_MAX_INSTANCE_LEN.is_multiple_of(3)
        && SW8_MAX_ENDPOINT_LEN.is_multiple_of(3)
        && SW8_MAX_ADDRESS_LEN.is_multiple_of(3)
);

/// Values up to this long decode through a smaller buffer ([`Sw8::walk_into`]).
const SMALL_VALUE: usize = 512;

/// [`walk`] with the texts decoded into `buf`: each at its front (`SIDE_BY_SIDE`
/// false: `buf` needs room for the largest field), or each after the last
/// (`SIDE_BY_SIDE` true: `buf` needs room for all of them, 3/4 of `value`'s length).
#[inline]
fn walk_in<const SIDE_BY_SIDE: bool>(
    value: &str,
    buf: &mut [u8],
    mut text: impl FnMut(Text, &[u8], bool) -> bool,
) -> Option<(bool, i32)> {
    const TEXTS: [Text; 6] = [
        Text::TraceId,
        Text::SegmentId,
        Text::Service,
        Text::Instance,
        Text::Endpoint,
        Text::Address,
    ];
    if value.len() > SW8_MAX_LEN {
        return None;
    }
    let bytes = value.as_bytes();
    let sample = match bytes {
        [b'1', b'-', ..] => true,
        [b'0', b'-', ..] => false,
        _ => return None,
    };
    let mut at = 2;
    let mut span_id = None;
    let mut decoded = 0;
    for (i, field) in TEXTS.into_iter().enumerate() {
        if i == 2 {
            // Field 4, between the ids and the texts: 1 to 10 digits, at most
            // `i32::MAX`, then `-`.
            let mut id = 0u64;
            let mut digits = 0;
            while let Some(digit) = bytes.get(at + digits).and_then(|b| b.checked_sub(b'0')) {
                if digit > 9 || digits == 10 {
                    break;
                }
                id = id * 10 + u64::from(digit);
                digits += 1;
            }
            if digits == 0 || bytes.get(at + digits) != Some(&b'-') {
                return None;
            }
            span_id = Some(i32::try_from(id).ok()?);
            at += digits + 1;
        }
        // A text within its cap is within the encoded cap too (the caps are multiples
        // of 3): the decoded length is the one to check.
        let start = if SIDE_BY_SIDE { decoded } else { 0 };
        let room = buf.get_mut(start..)?;
        let (used, len, ascii) = b64::decode_until_dash(bytes.get(at..)?, room)?;
        if len > field.max() || !text(field, room.get(..len)?, ascii) {
            return None;
        }
        at += used;
        // The last field runs to the end; the others end at a `-`.
        if i == TEXTS.len() - 1 {
            if at != bytes.len() {
                return None;
            }
        } else if bytes.get(at) != Some(&b'-') {
            return None;
        }
        at += 1;
        decoded += len;
    }
    Some((sample, span_id?))
}

/// An `sw8` value split into its 8 fields, its length, field count, sample flag and
/// span id checked; the text fields still Base64 and unchecked. Each text field is
/// then checked while it is decoded, straight into where it goes
/// ([`decode_str`](Self::decode_str), [`decode_string`](Self::decode_string)): the
/// decoders that keep what they read make one pass over it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sw8Fields<'a> {
    pub(crate) sample: bool,
    pub(crate) parent_span_id: i32,
    /// Fields 2, 3, 5, 6, 7 and 8, in [`Text`] order.
    texts: [&'a str; 6],
}

impl<'a> Sw8Fields<'a> {
    /// The checks of [`Sw8::decode`] up to the text fields, in its order.
    #[inline]
    pub(crate) fn split(value: &'a str) -> Result<Self, HeaderError> {
        if value.len() > SW8_MAX_LEN {
            return Err(HeaderError::TooLong {
                header: SW8,
                len: value.len(),
                max: SW8_MAX_LEN,
            });
        }
        let [
            sample,
            trace_id,
            segment_id,
            span_id,
            service,
            instance,
            endpoint,
            address,
        ] = split_fields(value)?;
        // The plain fields first: rejecting on them is cheaper than on Base64.
        let sample = match sample {
            "1" => true,
            "0" => false,
            _ => return Err(HeaderError::InvalidSample),
        };
        let parent_span_id = parse_span_id(span_id)?;
        Ok(Sw8Fields {
            sample,
            parent_span_id,
            texts: [trace_id, segment_id, service, instance, endpoint, address],
        })
    }

    /// The room [`decode_bytes`](Self::decode_bytes) needs for `text`: what its
    /// encoded length could hold, bounded by its cap (a longer encoded text is
    /// rejected before decoding).
    #[inline]
    pub(crate) fn room(&self, text: Text) -> usize {
        let encoded = self.texts[text.index()];
        b64::decoded_len(encoded.len().min(b64::encoded_len(text.max())))
    }

    /// Checks and decodes a text field into the front of `out`, which has
    /// [`room`](Self::room) bytes or more: the length decoded, and whether it is ASCII.
    /// Every check but UTF-8, which the caller makes (ASCII needs none).
    ///
    /// # Errors
    ///
    /// What [`Sw8::decode`] says of this field (but [`HeaderError::InvalidUtf8`]), or
    /// [`HeaderError::InvalidBase64`] when `out` is too short.
    #[inline]
    pub(crate) fn decode_bytes(
        &self,
        text: Text,
        out: &mut [u8],
    ) -> Result<(usize, bool), HeaderError> {
        text.decode(self.texts[text.index()], out)
    }

    /// Checks and decodes an id field (trace or segment id) into `buf`: the id,
    /// borrowed from it. Nothing is allocated.
    ///
    /// # Errors
    ///
    /// What [`Sw8::decode`] says of this field.
    #[inline]
    pub(crate) fn decode_str<'b>(
        &self,
        text: Text,
        buf: &'b mut [u8; ID_ROOM],
    ) -> Result<&'b str, HeaderError> {
        debug_assert!(text.max() <= ID_ROOM);
        let (len, _) = text.decode(self.texts[text.index()], buf)?;
        buf.get(..len)
            .and_then(|bytes| std::str::from_utf8(bytes).ok())
            .ok_or(text.not_utf8())
    }

    /// Checks and decodes a text field into `out`, replacing its content and keeping
    /// its capacity: nothing is allocated when `out` has room for the decoded text
    /// (rounded up to 3 bytes). On an error `out` is left empty.
    ///
    /// # Errors
    ///
    /// What [`Sw8::decode`] says of this field.
    #[inline]
    pub(crate) fn decode_string(&self, text: Text, out: &mut String) -> Result<(), HeaderError> {
        let mut bytes = std::mem::take(out).into_bytes();
        bytes.clear();
        bytes.resize(self.room(text), 0);
        let decoded = self.decode_bytes(text, &mut bytes).map(|(len, _)| len);
        bytes.truncate(*decoded.as_ref().unwrap_or(&0));
        match String::from_utf8(bytes) {
            Ok(text) => {
                *out = text;
                decoded.map(drop)
            }
            Err(err) => {
                let mut bytes = err.into_bytes();
                bytes.clear();
                *out = String::from_utf8(bytes).unwrap_or_default();
                decoded.and(Err(text.not_utf8()))
            }
        }
    }
}

/// The 8 `-`-separated fields of `value`. Looks for `-` eight bytes at a time.
#[inline]
fn split_fields(value: &str) -> Result<[&str; 8], HeaderError> {
    const DASHES: u64 = u64::from_ne_bytes([b'-'; 8]);
    const LOW7: u64 = u64::from_ne_bytes([0x7f; 8]);
    let bytes = value.as_bytes();
    let mut cuts = [0usize; 7];
    let mut found = 0;
    let mut cut = |at: usize| {
        if let Some(slot) = cuts.get_mut(found) {
            *slot = at;
        }
        found += 1;
    };
    let mut words = bytes.chunks_exact(8);
    for (n, word) in (&mut words).enumerate() {
        let Ok(word) = <[u8; 8]>::try_from(word) else {
            continue;
        };
        let x = u64::from_le_bytes(word) ^ DASHES;
        // The high bit of each byte of `x` that is zero (a `-` in `word`), exactly.
        let mut dashes = !(((x & LOW7) + LOW7) | x | LOW7);
        while dashes != 0 {
            cut(n * 8 + dashes.trailing_zeros() as usize / 8);
            dashes &= dashes - 1;
        }
    }
    let tail = bytes.len() - words.remainder().len();
    for (i, &b) in words.remainder().iter().enumerate() {
        if b == b'-' {
            cut(tail + i);
        }
    }
    if found != 7 {
        return Err(HeaderError::FieldCount {
            header: SW8,
            // Counting "stops" a little past 8, as the message promises.
            found: (found + 1).min(9),
            expected: 8,
        });
    }
    // Every cut is at a `-`, an ASCII byte, hence on a character boundary.
    let field = |from: usize, to: usize| value.get(from..to).unwrap_or_default();
    let [a, b, c, d, e, f, g] = cuts;
    Ok([
        field(0, a),
        field(a + 1, b),
        field(b + 1, c),
        field(c + 1, d),
        field(d + 1, e),
        field(e + 1, f),
        field(f + 1, g),
        field(g + 1, value.len()),
    ])
}

impl Sw8Ref<'_> {
    /// Encodes the header value into a new `String` of exactly
    /// [`encoded_len`](Self::encoded_len) bytes (one allocation).
    #[must_use]
    pub fn encode(&self) -> String {
        let mut buf = b64::AsciiBuf::with_capacity(self.encoded_len());
        self.write(&mut buf);
        buf.into_string()
    }

    /// Appends the header value to `out`. Allocates nothing if `out` already has
    /// [`encoded_len`](Self::encoded_len) bytes of spare capacity, so a caller can
    /// reuse one buffer.
    pub fn encode_into(&self, out: &mut String) {
        out.reserve(self.encoded_len());
        let mut buf = b64::AsciiBuf::from(std::mem::take(out));
        self.write(&mut buf);
        *out = buf.into_string();
    }

    fn write(&self, buf: &mut b64::AsciiBuf) {
        buf.push(if self.sample { b'1' } else { b'0' });
        buf.push(b'-');
        buf.push_b64(self.trace_id);
        buf.push(b'-');
        buf.push_b64(self.parent_segment_id);
        buf.push(b'-');
        buf.push_decimal(u64::from(self.parent_span_id.max(0).unsigned_abs()));
        buf.push(b'-');
        buf.push_b64(self.parent_service);
        buf.push(b'-');
        buf.push_b64(self.parent_service_instance);
        buf.push(b'-');
        buf.push_b64(self.parent_endpoint);
        buf.push(b'-');
        buf.push_b64(self.address_used_at_client);
    }

    /// The exact length in bytes of the encoded header value.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        // Sample flag plus seven separators.
        let fixed = 1 + 7 + decimal_len(self.parent_span_id.max(0).unsigned_abs());
        [
            self.trace_id,
            self.parent_segment_id,
            self.parent_service,
            self.parent_service_instance,
            self.parent_endpoint,
            self.address_used_at_client,
        ]
        .iter()
        .fold(fixed, |len, field| {
            len.saturating_add(b64::encoded_len(field.len()))
        })
    }

    /// Checks the fields against the rules [`Sw8::decode`] enforces, so that
    /// `Sw8::decode(&view.encode())` succeeds exactly when this returns `Ok`.
    ///
    /// # Errors
    ///
    /// [`HeaderError::EmptyField`] or [`HeaderError::FieldTooLong`] for the first
    /// offending field, [`HeaderError::InvalidSpanId`] for a negative span id.
    pub fn validate(&self) -> Result<(), HeaderError> {
        check(self.trace_id, FIELD_TRACE_ID, SW8_MAX_ID_LEN, true)?;
        check(
            self.parent_segment_id,
            FIELD_SEGMENT_ID,
            SW8_MAX_ID_LEN,
            true,
        )?;
        if self.parent_span_id < 0 {
            return Err(HeaderError::InvalidSpanId);
        }
        check(
            self.parent_service,
            FIELD_SERVICE,
            SW8_MAX_SERVICE_LEN,
            true,
        )?;
        check(
            self.parent_service_instance,
            FIELD_INSTANCE,
            SW8_MAX_INSTANCE_LEN,
            true,
        )?;
        check(
            self.parent_endpoint,
            FIELD_ENDPOINT,
            SW8_MAX_ENDPOINT_LEN,
            true,
        )?;
        check(
            self.address_used_at_client,
            FIELD_ADDRESS,
            SW8_MAX_ADDRESS_LEN,
            true,
        )
    }

    /// Copies the fields into an owned [`Sw8`].
    #[must_use]
    pub fn into_owned(self) -> Sw8 {
        Sw8 {
            sample: self.sample,
            trace_id: self.trace_id.to_owned(),
            parent_segment_id: self.parent_segment_id.to_owned(),
            parent_span_id: self.parent_span_id,
            parent_service: self.parent_service.to_owned(),
            parent_service_instance: self.parent_service_instance.to_owned(),
            parent_endpoint: self.parent_endpoint.to_owned(),
            address_used_at_client: self.address_used_at_client.to_owned(),
        }
    }
}

fn check(value: &str, field: &'static str, max: usize, required: bool) -> Result<(), HeaderError> {
    if required && value.is_empty() {
        Err(HeaderError::EmptyField { header: SW8, field })
    } else if value.len() > max {
        Err(HeaderError::FieldTooLong {
            header: SW8,
            field,
            max,
        })
    } else {
        Ok(())
    }
}

/// Parses field 4: 1 to 10 ASCII digits, at most `i32::MAX`. No sign, no spaces.
fn parse_span_id(s: &str) -> Result<i32, HeaderError> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeaderError::InvalidSpanId);
    }
    s.parse().map_err(|_| HeaderError::InvalidSpanId)
}

/// Number of decimal digits of `n`.
fn decimal_len(n: u32) -> usize {
    match n.checked_ilog10() {
        // ilog10 of a u32 is at most 9.
        Some(log) => log as usize + 1,
        None => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sw8(fields: [&str; 8]) -> String {
        fields.join("-")
    }

    /// Builds the expected `Sw8` from plain text fields.
    #[allow(clippy::too_many_arguments)]
    fn expect(
        sample: bool,
        trace_id: &str,
        segment_id: &str,
        span_id: i32,
        service: &str,
        instance: &str,
        endpoint: &str,
        address: &str,
    ) -> Sw8 {
        Sw8Ref {
            sample,
            trace_id,
            parent_segment_id: segment_id,
            parent_span_id: span_id,
            parent_service: service,
            parent_service_instance: instance,
            parent_endpoint: endpoint,
            address_used_at_client: address,
        }
        .into_owned()
    }

    // ---- what the official agents send (literals computed with python3 base64) ----

    #[test]
    fn decodes_java_agent_header() {
        // Java: `<uuid-no-dashes>.<thread>.<millis*10000+seq>` ids, `<uuid>@<ip>`
        // instance, `{GET}/path` endpoint, always sample `1`.
        let header = "1-ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzAuNjkuMTYxODEzMzExOTA0NzAwMDE=\
            -ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzAuNjkuMTYxODEzMzExOTA0NzAwMDI=-3\
            -b3JkZXItc2VydmljZQ==\
            -ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzBAMTAuMC4wLjEy\
            -e0dFVH0vb3JkZXJzL3tpZH0=-cGF5bWVudDo4MDgw";
        let expected = expect(
            true,
            "ddd92f52207c468e9cd03ddd107cd530.69.16181331190470001",
            "ddd92f52207c468e9cd03ddd107cd530.69.16181331190470002",
            3,
            "order-service",
            "ddd92f52207c468e9cd03ddd107cd530@10.0.0.12",
            "{GET}/orders/{id}",
            "payment:8080",
        );
        assert_eq!(Sw8::decode(header), Ok(expected.clone()));
        // Our encoder writes byte for byte what Java writes.
        assert_eq!(expected.encode(), header);
    }

    #[test]
    fn decodes_go_agent_header() {
        // Go: `<uuid-no-dashes>.<goroutine>.<ms since 1900 *10000+seq>` ids,
        // `<uuid>@<ip>` instance with dashes, `GET:/path` endpoint.
        let header = "1-M2Y5YTFlNmMyYjdkNGUxZjhhNWMwZDllN2I2YTRjMjEuNDIuMzkwODk4ODgwMDAwMDAwMDM=\
            -M2Y5YTFlNmMyYjdkNGUxZjhhNWMwZDllN2I2YTRjMjEuNDIuMzkwODk4ODgwMDAwMDAwMDQ=-1\
            -Z28tdXNlcnM=-NmYyYjFjM2EtOGQ0ZS00ZjVhLTliNmMtN2Q4ZTlmMGExYjJjQDEwLjAuMC43\
            -R0VUOi9hcGkvdXNlcnM=-dXNlci1zdmM6ODA4MA==";
        let expected = expect(
            true,
            "3f9a1e6c2b7d4e1f8a5c0d9e7b6a4c21.42.39089888000000003",
            "3f9a1e6c2b7d4e1f8a5c0d9e7b6a4c21.42.39089888000000004",
            1,
            "go-users",
            "6f2b1c3a-8d4e-4f5a-9b6c-7d8e9f0a1b2c@10.0.0.7",
            "GET:/api/users",
            "user-svc:8080",
        );
        assert_eq!(Sw8::decode(header), Ok(expected.clone()));
        assert_eq!(expected.encode(), header);
    }

    #[test]
    fn decodes_python_agent_header() {
        // Python: uuid1 hex ids, exit span name (`/users/42`) in field 7.
        let header = "1-NWYwYzNhM2U4YjFlMTFlZWI5NjIwMjQyYWMxMjAwMDI=\
            -NWYwYzNhM2Y4YjFlMTFlZWI5NjIwMjQyYWMxMjAwMDI=-1-cHktZnJvbnRlbmQ=\
            -NWYwYmQwYzI4YjFlMTFlZWI5NjIwMjQyYWMxMjAwMDJAMTcyLjE4LjAuMg==\
            -L3VzZXJzLzQy-dXNlcnM6OTA5MA==";
        let expected = expect(
            true,
            "5f0c3a3e8b1e11eeb9620242ac120002",
            "5f0c3a3f8b1e11eeb9620242ac120002",
            1,
            "py-frontend",
            "5f0bd0c28b1e11eeb9620242ac120002@172.18.0.2",
            "/users/42",
            "users:9090",
        );
        assert_eq!(Sw8::decode(header), Ok(expected.clone()));
        assert_eq!(expected.encode(), header);
    }

    #[test]
    fn rejects_node_agent_header_with_empty_address_as_java_does() {
        // Node: exit span name in field 7 and `''` for a missing client address. Java's
        // `ContextCarrier.isValid` rejects an empty address, and so do we.
        let header = "1-YzBmOGUyYTRiNmQ4NGUwZjlhMWIyYzNkNGU1ZjZhN2IuNDcxMS4xNzAwMDAwMDAwMDAwMQ==\
            -YzBmOGUyYTRiNmQ4NGUwZjlhMWIyYzNkNGU1ZjZhN2IuNDcxMS4xNzAwMDAwMDAwMDAwMg==-2\
            -bm9kZS1nYXRld2F5-bm9kZS1nYXRld2F5LTE=-L2FwaS9pdGVtcw==-";
        let expected = expect(
            true,
            "c0f8e2a4b6d84e0f9a1b2c3d4e5f6a7b.4711.17000000000001",
            "c0f8e2a4b6d84e0f9a1b2c3d4e5f6a7b.4711.17000000000002",
            2,
            "node-gateway",
            "node-gateway-1",
            "/api/items",
            "",
        );
        let _ = expected;
        assert_eq!(
            Sw8::decode(header),
            Err(HeaderError::EmptyField {
                header: SW8,
                field: FIELD_ADDRESS
            })
        );
    }

    #[test]
    fn decodes_unpadded_and_url_safe_base64() {
        // The Node header above, with every field unpadded URL-safe Base64, and an
        // endpoint whose URL-safe spelling contains `_`.
        let header = "1-YzBmOGUyYTRiNmQ4NGUwZjlhMWIyYzNkNGU1ZjZhN2IuNDcxMS4xNzAwMDAwMDAwMDAwMQ\
            -YzBmOGUyYTRiNmQ4NGUwZjlhMWIyYzNkNGU1ZjZhN2IuNDcxMS4xNzAwMDAwMDAwMDAwMg-2\
            -bm9kZS1nYXRld2F5-bm9kZS1nYXRld2F5LTE-L2E_Yj1jPj4-aDo4MA";
        let sw8 = Sw8::decode(header).expect("lenient decode");
        assert_eq!(
            sw8.trace_id,
            "c0f8e2a4b6d84e0f9a1b2c3d4e5f6a7b.4711.17000000000001"
        );
        assert_eq!(sw8.parent_service_instance, "node-gateway-1");
        assert_eq!(sw8.parent_endpoint, "/a?b=c>>");
        // Same endpoint, standard alphabet: `/` instead of `_`.
        let std = header.replace("L2E_Yj1jPj4", "L2E/Yj1jPj4=");
        assert_eq!(
            Sw8::decode(&std).map(|s| s.parent_endpoint),
            Ok(sw8.parent_endpoint)
        );
    }

    #[test]
    fn decodes_rust_agent_header() {
        // Official Rust crate: decimal u128 ids, target path (`/pong`) in field 7.
        let header = "1-MjUyMjM2MTQ1MzgzMjk0MTE2Mzg2NTg3NDEwNDM3NDI3NzM1MjM0\
            -MTEzNjA1NDczODk4MzkyMDM0NTEyODcwNDc4OTMwMjUxOTM0MTc4-1-cnVzdC1jb25zdW1lcg==\
            -cnVzdC1jb25zdW1lci1pbnN0YW5jZQ==-L3Bvbmc=-MTI3LjAuMC4xOjgwODI=";
        let expected = expect(
            true,
            "252236145383294116386587410437427735234",
            "113605473898392034512870478930251934178",
            1,
            "rust-consumer",
            "rust-consumer-instance",
            "/pong",
            "127.0.0.1:8082",
        );
        assert_eq!(Sw8::decode(header), Ok(expected.clone()));
        assert_eq!(expected.encode(), header);
    }

    #[test]
    fn decodes_sample_zero_and_non_ascii() {
        // 服务 = "5pyN5Yqh", "/api/ünïcode" = "L2FwaS/DvG7Dr2NvZGU=".
        let header = sw8([
            "0",
            "dA==",
            "cw==",
            "0",
            "5pyN5Yqh",
            "aQ==",
            "L2FwaS/DvG7Dr2NvZGU=",
            "aDo4MA==",
        ]);
        let sw8 = Sw8::decode(&header).expect("valid");
        assert!(!sw8.sample);
        assert_eq!(sw8.parent_span_id, 0);
        assert_eq!(sw8.parent_service, "服务");
        assert_eq!(sw8.parent_service_instance, "i");
        assert_eq!(sw8.parent_endpoint, "/api/ünïcode");
        assert_eq!(sw8.encode(), header);
    }

    #[test]
    fn span_id_accepts_leading_zeros_and_i32_max() {
        let with = |id: &str| {
            Sw8::decode(&sw8([
                "1", "dA==", "cw==", id, "cw==", "aQ==", "ZQ==", "YQ==",
            ]))
        };
        assert_eq!(with("007").map(|s| s.parent_span_id), Ok(7));
        assert_eq!(with("2147483647").map(|s| s.parent_span_id), Ok(i32::MAX));
    }

    // ---- rejections ----

    /// A valid header with field `i` replaced.
    /// The header of [`with_field`].
    fn with_field_value(i: usize, value: &str) -> String {
        let mut fields = ["1", "dA==", "cw==", "3", "c3Zj", "aW5z", "L2E=", "aDo4MA=="];
        fields[i] = value;
        sw8(fields)
    }

    fn with_field(i: usize, value: &str) -> Result<Sw8, HeaderError> {
        let mut fields = ["1", "dA==", "cw==", "3", "c3Zj", "aW5z", "L2E=", "aDo4MA=="];
        fields[i] = value;
        Sw8::decode(&sw8(fields))
    }

    #[test]
    fn rejects_over_2k() {
        let long = format!("1-{}-cw==-3-c3Zj-aW5z-L2E=-aDo4MA==", "A".repeat(2100));
        assert_eq!(
            Sw8::decode(&long),
            Err(HeaderError::TooLong {
                header: SW8,
                len: long.len(),
                max: SW8_MAX_LEN
            })
        );
    }

    #[test]
    fn rejects_wrong_field_count() {
        let count = |found| HeaderError::FieldCount {
            header: SW8,
            found,
            expected: 8,
        };
        assert_eq!(Sw8::decode(""), Err(count(1)));
        assert_eq!(Sw8::decode("1-dA==-cw==-3-c3Zj-aW5z-L2E="), Err(count(7)));
        assert_eq!(
            Sw8::decode("1-dA==-cw==-3-c3Zj-aW5z-L2E=-aDo4MA==-eA=="),
            Err(count(9))
        );
        assert_eq!(Sw8::decode(&"-".repeat(100)), Err(count(9)));
        // URL-safe Base64 containing `-` ("svc>>>?") splits a field in two.
        assert_eq!(
            Sw8::decode("1-dA==-cw==-3-c3ZjPj4-Pw-aW5z-L2E=-aDo4MA=="),
            Err(count(9))
        );
        // A negative span id is a field count problem too.
        assert_eq!(
            Sw8::decode("1-dA==-cw==--1-c3Zj-aW5z-L2E=-aDo4MA=="),
            Err(count(9))
        );
    }

    #[test]
    fn rejects_bad_sample_flag() {
        for s in ["", "2", "01", "true", " 1"] {
            assert_eq!(with_field(0, s), Err(HeaderError::InvalidSample), "{s:?}");
        }
    }

    #[test]
    fn rejects_bad_span_id() {
        for s in [
            "",
            "x",
            "+3",
            " 3",
            "3 ",
            "2147483648",
            "99999999999",
            "1e3",
            "٣",
        ] {
            assert_eq!(with_field(3, s), Err(HeaderError::InvalidSpanId), "{s:?}");
        }
    }

    #[test]
    fn rejects_empty_required_fields() {
        for (i, field) in [
            (1, FIELD_TRACE_ID),
            (2, FIELD_SEGMENT_ID),
            (4, FIELD_SERVICE),
            (5, FIELD_INSTANCE),
            (6, FIELD_ENDPOINT),
            (7, FIELD_ADDRESS),
        ] {
            assert_eq!(
                with_field(i, ""),
                Err(HeaderError::EmptyField { header: SW8, field })
            );
        }
    }

    #[test]
    fn rejects_bad_base64() {
        for (i, field) in [
            (1, FIELD_TRACE_ID),
            (2, FIELD_SEGMENT_ID),
            (4, FIELD_SERVICE),
            (5, FIELD_INSTANCE),
            (6, FIELD_ENDPOINT),
            (7, FIELD_ADDRESS),
        ] {
            for bad in ["!!!!", "a", "dA=x", "d A=", "+_8="] {
                assert_eq!(
                    with_field(i, bad),
                    Err(HeaderError::InvalidBase64 { header: SW8, field }),
                    "{field} {bad:?}"
                );
            }
        }
    }

    #[test]
    fn rejects_non_utf8() {
        // 0xff 0xfe 0xfd.
        assert_eq!(
            with_field(1, "//79"),
            Err(HeaderError::InvalidUtf8 {
                header: SW8,
                field: FIELD_TRACE_ID
            })
        );
        assert_eq!(
            with_field(7, "__79"),
            Err(HeaderError::InvalidUtf8 {
                header: SW8,
                field: FIELD_ADDRESS
            })
        );
    }

    #[test]
    fn rejects_fields_over_their_cap() {
        let b64 = |n: usize| {
            let mut s = String::new();
            b64::encode_into(&"x".repeat(n), &mut s);
            s
        };
        for (i, field, max) in [
            (1, FIELD_TRACE_ID, SW8_MAX_ID_LEN),
            (2, FIELD_SEGMENT_ID, SW8_MAX_ID_LEN),
            (4, FIELD_SERVICE, SW8_MAX_SERVICE_LEN),
            (5, FIELD_INSTANCE, SW8_MAX_INSTANCE_LEN),
            (6, FIELD_ENDPOINT, SW8_MAX_ENDPOINT_LEN),
            (7, FIELD_ADDRESS, SW8_MAX_ADDRESS_LEN),
        ] {
            assert!(with_field(i, &b64(max)).is_ok(), "{field} at cap");
            assert_eq!(
                with_field(i, &b64(max + 1)),
                Err(HeaderError::FieldTooLong {
                    header: SW8,
                    field,
                    max
                }),
                "{field} over cap"
            );
        }
    }

    #[test]
    fn every_field_at_its_cap_still_fits_2k() {
        let id = "i".repeat(SW8_MAX_ID_LEN);
        let view = Sw8Ref {
            sample: true,
            trace_id: &id,
            parent_segment_id: &id,
            parent_span_id: i32::MAX,
            parent_service: &"s".repeat(SW8_MAX_SERVICE_LEN),
            parent_service_instance: &"n".repeat(SW8_MAX_INSTANCE_LEN),
            parent_endpoint: &"e".repeat(SW8_MAX_ENDPOINT_LEN),
            address_used_at_client: &"a".repeat(SW8_MAX_ADDRESS_LEN),
        };
        let header = view.encode();
        assert!(header.len() <= SW8_MAX_LEN, "{}", header.len());
        assert_eq!(Sw8::decode(&header), Ok(view.into_owned()));
    }

    // ---- encoder ----

    #[test]
    fn encode_is_one_exact_allocation() {
        let view = Sw8::decode("0-dA==-cw==-1234567-c3Zj-aW5z-L2E=-aDo4MA==").expect("valid");
        let out = view.encode();
        assert_eq!(out.len(), view.view().encoded_len());
        assert_eq!(out.capacity(), out.len());
        assert_eq!(out, "0-dA==-cw==-1234567-c3Zj-aW5z-L2E=-aDo4MA==");

        let mut buf = String::with_capacity(256);
        let ptr = buf.as_ptr();
        view.view().encode_into(&mut buf);
        assert_eq!(buf, out);
        assert_eq!(buf.as_ptr(), ptr, "no reallocation into a roomy buffer");
    }

    #[test]
    fn negative_span_id_is_written_as_zero() {
        let view = Sw8Ref {
            sample: true,
            trace_id: "t",
            parent_segment_id: "s",
            parent_span_id: -1,
            parent_service: "svc",
            parent_service_instance: "ins",
            parent_endpoint: "/a",
            address_used_at_client: "h:80",
        };
        assert_eq!(view.validate(), Err(HeaderError::InvalidSpanId));
        assert_eq!(view.encode(), "1-dA==-cw==-0-c3Zj-aW5z-L2E=-aDo4MA==");
        assert_eq!(view.encoded_len(), view.encode().len());
    }

    #[test]
    fn decimal_len_is_exact() {
        for n in [
            0u32,
            1,
            9,
            10,
            99,
            100,
            999_999_999,
            1_000_000_000,
            u32::MAX,
        ] {
            assert_eq!(decimal_len(n), n.to_string().len(), "{n}");
        }
    }

    // ---- the borrowed parser ----

    #[test]
    fn header_reads_like_the_owned_decode() {
        let header = "1-ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzAuNjkuMTYxODEzMzExOTA0NzAwMDE=\
            -ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzAuNjkuMTYxODEzMzExOTA0NzAwMDI=-3\
            -b3JkZXItc2VydmljZQ==\
            -ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzBAMTAuMC4wLjEy\
            -e0dFVH0vb3JkZXJzL3tpZH0=-cGF5bWVudDo4MDgw";
        let parsed = Sw8Header::parse(header).expect("valid");
        assert!(parsed.sample());
        assert_eq!(parsed.parent_span_id(), 3);
        assert!(parsed.parent_service() == "order-service");
        assert!(parsed.parent_service() != "order-servicf");
        assert!(parsed.parent_service() != "order");
        assert_eq!(
            parsed.parent_endpoint().encoded(),
            "e0dFVH0vb3JkZXJzL3tpZH0"
        );
        assert_eq!(parsed.parent_endpoint().decoded_len(), 17);
        assert_eq!(parsed.address_used_at_client().to_string(), "payment:8080");
        assert_eq!(
            format!("{:?}", parsed.address_used_at_client()),
            "\"payment:8080\""
        );
        let mut out = String::from("x");
        parsed.parent_endpoint().decode_into(&mut out);
        assert_eq!(out, "x{GET}/orders/{id}");
        assert_eq!(Ok(parsed.to_sw8()), Sw8::decode(header));
    }

    #[test]
    fn header_decodes_non_ascii_and_url_safe_fields() {
        // 服务 = "5pyN5Yqh"; "/a?b=c>>" URL-safe unpadded = "L2E_Yj1jPj4".
        let header = sw8([
            "0",
            "dA",
            "cw==",
            "0",
            "5pyN5Yqh",
            "aQ",
            "L2E_Yj1jPj4",
            "aDo4MA=",
        ]);
        let parsed = Sw8Header::parse(&header).expect("valid");
        assert!(parsed.parent_service() == "服务");
        assert!(parsed.parent_endpoint() == "/a?b=c>>");
        assert!(parsed.trace_id() == "t");
        assert!(parsed.address_used_at_client() == "h:80");
    }

    /// The decoder this crate used before `Sw8Header`: the `base64` crate's engines on
    /// each field, into owned strings. The borrowed parser must agree with it on every
    /// input, value and error alike.
    fn decode_with_engine(value: &str) -> Result<Sw8, HeaderError> {
        fn required(encoded: &str, field: &'static str, max: usize) -> Result<String, HeaderError> {
            if encoded.is_empty() {
                return Err(HeaderError::EmptyField { header: SW8, field });
            }
            let decoded = b64::decode_field(encoded, SW8, field, max)?;
            if decoded.is_empty() {
                return Err(HeaderError::EmptyField { header: SW8, field });
            }
            Ok(decoded)
        }
        if value.len() > SW8_MAX_LEN {
            return Err(HeaderError::TooLong {
                header: SW8,
                len: value.len(),
                max: SW8_MAX_LEN,
            });
        }
        let mut parts = [""; 8];
        let mut found = 0;
        for part in value.split('-') {
            if found == parts.len() {
                found += 1;
                break;
            }
            parts[found] = part;
            found += 1;
        }
        if found != parts.len() {
            return Err(HeaderError::FieldCount {
                header: SW8,
                found,
                expected: parts.len(),
            });
        }
        let [
            sample,
            trace_id,
            segment_id,
            span_id,
            service,
            instance,
            endpoint,
            address,
        ] = parts;
        let sample = match sample {
            "1" => true,
            "0" => false,
            _ => return Err(HeaderError::InvalidSample),
        };
        let parent_span_id = parse_span_id(span_id)?;
        Ok(Sw8 {
            sample,
            trace_id: required(trace_id, FIELD_TRACE_ID, SW8_MAX_ID_LEN)?,
            parent_segment_id: required(segment_id, FIELD_SEGMENT_ID, SW8_MAX_ID_LEN)?,
            parent_span_id,
            parent_service: required(service, FIELD_SERVICE, SW8_MAX_SERVICE_LEN)?,
            parent_service_instance: required(instance, FIELD_INSTANCE, SW8_MAX_INSTANCE_LEN)?,
            parent_endpoint: required(endpoint, FIELD_ENDPOINT, SW8_MAX_ENDPOINT_LEN)?,
            address_used_at_client: required(address, FIELD_ADDRESS, SW8_MAX_ADDRESS_LEN)?,
        })
    }

    /// A field as a sender might spell it: Base64 of arbitrary bytes in either
    /// alphabet, padded, unpadded or over-padded, or junk.
    fn spelled_field() -> impl Strategy<Value = String> {
        use base64::Engine as _;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40).prop_map(|bytes| STANDARD.encode(bytes)),
            proptest::collection::vec(any::<u8>(), 0..40)
                .prop_map(|bytes| URL_SAFE_NO_PAD.encode(bytes).replace('-', "+")),
            "[a-zA-Z0-9]{0,12}",
            "[a-zA-Z0-9+/_=]{0,12}",
            "[a-zA-Z0-9=]{0,6}=+",
            any::<String>().prop_map(|s| s.chars().filter(|c| *c != '-').take(8).collect()),
        ]
    }

    fn spelled_header() -> impl Strategy<Value = String> {
        (
            prop_oneof!["[01]", "[0-9x]{0,2}"],
            spelled_field(),
            spelled_field(),
            prop_oneof!["[0-9]{1,3}", "[0-9+ x]{0,11}"],
            proptest::collection::vec(spelled_field(), 3..6),
        )
            .prop_map(|(sample, trace, segment, span, rest)| {
                let mut fields = vec![sample, trace, segment, span];
                fields.extend(rest);
                fields.join("-")
            })
    }

    /// What [`walk`] decodes, as an `Sw8`; `None` when it rejects the value.
    fn walked(value: &str) -> Option<Sw8> {
        let mut texts = Vec::new();
        let mut order = Vec::new();
        let (sample, parent_span_id) = walk(value, |field, bytes, ascii| {
            order.push(field);
            match std::str::from_utf8(bytes) {
                Ok(text) => {
                    assert!(!ascii || text.is_ascii(), "{text:?} said ASCII");
                    assert!(ascii || !text.is_ascii(), "{text:?} said not ASCII");
                    texts.push(text.to_owned());
                    true
                }
                Err(_) => false,
            }
        })?;
        assert_eq!(
            order,
            [
                Text::TraceId,
                Text::SegmentId,
                Text::Service,
                Text::Instance,
                Text::Endpoint,
                Text::Address
            ]
        );
        let [
            trace_id,
            parent_segment_id,
            parent_service,
            parent_service_instance,
            parent_endpoint,
            address_used_at_client,
        ] = <[String; 6]>::try_from(texts).ok()?;
        Some(Sw8 {
            sample,
            trace_id,
            parent_segment_id,
            parent_span_id,
            parent_service,
            parent_service_instance,
            parent_endpoint,
            address_used_at_client,
        })
    }

    #[test]
    fn the_walk_reads_what_decode_reads() {
        let java = "1-ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzAuNjkuMTYxODEzMzExOTA0NzAwMDE=\
            -ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzAuNjkuMTYxODEzMzExOTA0NzAwMDI=-3\
            -b3JkZXItc2VydmljZQ==\
            -ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzBAMTAuMC4wLjEy\
            -e0dFVH0vb3JkZXJzL3tpZH0=-cGF5bWVudDo4MDgw";
        assert_eq!(walked(java), decode_by_field(java).ok());
        assert!(walked(java).is_some());
        for bad in [
            "",
            "1",
            "1-",
            "2-dA==-cw==-3-c3Zj-aW5z-L2E=-aDo4MA==",
            "1-dA==-cw==-3-c3Zj-aW5z-L2E=-aDo4MA==-",
            "1-dA==-cw==-3-c3Zj-aW5z-L2E=-aDo4MA==-x",
            "1-dA==-cw==--c3Zj-aW5z-L2E=-aDo4MA==",
            "1-dA==-cw==-12345678901-c3Zj-aW5z-L2E=-aDo4MA==",
            "1-dA==-cw==-3-c3Zj-aW5z-L2E=",
            "1--cw==-3-c3Zj-aW5z-L2E=-aDo4MA==",
            "1-dA===-cw==-3-c3Zj-aW5z-L2E=-aDo4MA==",
            "1-d-cw==-3-c3Zj-aW5z-L2E=-aDo4MA==",
            "1-+_8=-cw==-3-c3Zj-aW5z-L2E=-aDo4MA==",
        ] {
            assert_eq!(walked(bad), None, "{bad:?}");
            assert!(decode_by_field(bad).is_err(), "{bad:?}");
        }
        // Every field at its cap is accepted, one byte more is not.
        for (i, max) in [
            (1, SW8_MAX_ID_LEN),
            (2, SW8_MAX_ID_LEN),
            (4, SW8_MAX_SERVICE_LEN),
            (5, SW8_MAX_INSTANCE_LEN),
            (6, SW8_MAX_ENDPOINT_LEN),
            (7, SW8_MAX_ADDRESS_LEN),
        ] {
            for n in [max - 2, max - 1, max, max + 1] {
                let mut field = String::new();
                b64::encode_into(&"x".repeat(n), &mut field);
                let header = with_field_value(i, &field);
                assert_eq!(
                    walked(&header),
                    Sw8::decode(&header).ok(),
                    "field {i}, {n} bytes"
                );
                assert_eq!(walked(&header).is_some(), n <= max, "field {i}, {n} bytes");
            }
        }
    }

    #[test]
    fn the_walk_reads_span_ids_as_decode_does() {
        for span_id in [
            "0",
            "7",
            "0000000001",
            "2147483647",
            "2147483648",
            "9999999999",
            "00000000001",
            "12345678901",
            "",
            "+1",
            "-1",
            " 1",
            "1x",
        ] {
            let header = with_field_value(3, span_id);
            let decoded = decode_by_field(&header);
            assert_eq!(walked(&header), decoded.clone().ok(), "{span_id:?}");
            let mut reused = Sw8::default();
            assert_eq!(
                reused.decode_from(&header).map(|()| reused),
                decoded,
                "{span_id:?}"
            );
        }
        assert_eq!(
            Sw8::decode(&with_field_value(3, "2147483647")).map(|sw8| sw8.parent_span_id),
            Ok(i32::MAX)
        );
    }

    #[test]
    fn a_character_split_between_two_texts_is_rejected() {
        // "服" is e6 9c 8d: its first two bytes end the service, its last starts the
        // instance. Side by side the texts are UTF-8; each on its own is not.
        let split = with_field_value(4, "5pw=").replace("-aW5z-", "-jQ==-");
        let expected = HeaderError::InvalidUtf8 {
            header: SW8,
            field: FIELD_SERVICE,
        };
        assert_eq!(Sw8::decode(&split), Err(expected.clone()));
        let mut reused = Sw8::decode(&with_field_value(4, "5pyN")).expect("valid");
        assert_eq!(reused.parent_service, "服");
        assert_eq!(reused.decode_from(&split), Err(expected));
        // The same bytes inside one text are fine.
        assert_eq!(
            Sw8::decode(&with_field_value(5, "5pyN")).map(|sw8| sw8.parent_service_instance),
            Ok("服".to_owned())
        );
    }

    #[test]
    fn long_values_decode_through_the_large_buffer() {
        let mut endpoint = String::new();
        b64::encode_into(&"é".repeat(SW8_MAX_ENDPOINT_LEN / 2), &mut endpoint);
        let header = with_field_value(6, &endpoint);
        assert!(header.len() > SMALL_VALUE);
        let mut reused = Sw8::default();
        assert_eq!(reused.decode_from(&header), Ok(()));
        assert_eq!(reused.parent_endpoint, "é".repeat(SW8_MAX_ENDPOINT_LEN / 2));
        assert_eq!(Ok(reused), Sw8::decode(&header));
    }

    // ---- properties ----

    fn field(max: usize) -> impl Strategy<Value = String> {
        // Any Unicode text, trimmed to the byte cap on a char boundary.
        any::<String>().prop_map(move |mut s| {
            while s.len() > max {
                s.pop();
            }
            s
        })
    }

    fn non_empty(max: usize) -> impl Strategy<Value = String> {
        field(max).prop_filter("non-empty", |s| !s.is_empty())
    }

    prop_compose! {
        fn valid_sw8()(
            sample in any::<bool>(),
            trace_id in non_empty(SW8_MAX_ID_LEN),
            parent_segment_id in non_empty(SW8_MAX_ID_LEN),
            parent_span_id in 0..=i32::MAX,
            parent_service in non_empty(SW8_MAX_SERVICE_LEN),
            parent_service_instance in non_empty(SW8_MAX_INSTANCE_LEN),
            parent_endpoint in non_empty(SW8_MAX_ENDPOINT_LEN),
            address_used_at_client in non_empty(SW8_MAX_ADDRESS_LEN),
        ) -> Sw8 {
            Sw8 {
                sample,
                trace_id,
                parent_segment_id,
                parent_span_id,
                parent_service,
                parent_service_instance,
                parent_endpoint,
                address_used_at_client,
            }
        }
    }

    proptest! {
        #[test]
        fn decode_never_panics(s in any::<String>()) {
            let _ = Sw8::decode(&s);
        }

        #[test]
        fn decode_never_panics_on_latin1_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2200)) {
            let s: String = bytes.iter().map(|&b| char::from(b)).collect();
            let _ = Sw8::decode(&s);
        }

        #[test]
        fn decode_never_panics_on_header_shaped_input(
            parts in proptest::collection::vec("[A-Za-z0-9+/=_ -]{0,12}", 0..12)
        ) {
            let _ = Sw8::decode(&parts.join("-"));
        }

        #[test]
        fn borrowed_parser_agrees_with_the_engine(header in spelled_header()) {
            prop_assert_eq!(Sw8::decode(&header), decode_with_engine(&header));
        }

        #[test]
        fn the_one_pass_decode_agrees_with_the_borrowed_parser(header in spelled_header()) {
            prop_assert_eq!(
                decode_by_field(&header),
                Sw8Header::parse(&header).map(|parsed| parsed.to_sw8())
            );
            prop_assert_eq!(
                Sw8::decode(&header),
                Sw8Header::parse(&header).map(|parsed| parsed.to_sw8())
            );
        }

        #[test]
        fn decoding_into_used_strings_keeps_nothing_of_them(header in spelled_header()) {
            let expected = Sw8::decode(&header);
            let mut out = "left over from before".to_owned();
            let mut all = Vec::new();
            let mut emptied_on_error = true;
            let decoded = Sw8Fields::split(&header).and_then(|fields| {
                for text in [
                    Text::TraceId,
                    Text::SegmentId,
                    Text::Service,
                    Text::Instance,
                    Text::Endpoint,
                    Text::Address,
                ] {
                    let result = fields.decode_string(text, &mut out);
                    emptied_on_error &= result.is_ok() || out.is_empty();
                    result?;
                    all.push(out.clone());
                }
                let mut buf = [0u8; ID_ROOM];
                let trace_id = fields.decode_str(Text::TraceId, &mut buf)?.to_owned();
                let mut buf = [0u8; ID_ROOM];
                let segment_id = fields.decode_str(Text::SegmentId, &mut buf)?.to_owned();
                Ok((trace_id, segment_id))
            });
            prop_assert!(emptied_on_error);
            match (decoded, expected) {
                (Ok((trace_id, segment_id)), Ok(sw8)) => {
                    prop_assert_eq!(&trace_id, &sw8.trace_id);
                    prop_assert_eq!(&segment_id, &sw8.parent_segment_id);
                    prop_assert_eq!(
                        all,
                        vec![
                            sw8.trace_id,
                            sw8.parent_segment_id,
                            sw8.parent_service,
                            sw8.parent_service_instance,
                            sw8.parent_endpoint,
                            sw8.address_used_at_client,
                        ]
                    );
                }
                (Err(got), Err(expected)) => prop_assert_eq!(got, expected),
                (got, expected) => prop_assert!(false, "{got:?} vs {expected:?}"),
            }
        }

        #[test]
        fn decoding_from_agrees_with_decode(first in spelled_header(), second in spelled_header()) {
            let mut sw8 = Sw8::default();
            for header in [&first, &second] {
                let result = sw8.decode_from(header);
                prop_assert_eq!(result.clone().map(|()| sw8.clone()), Sw8::decode(header));
            }
        }

        #[test]
        fn the_walk_agrees_with_decode(header in spelled_header()) {
            prop_assert_eq!(walked(&header), decode_by_field(&header).ok());
        }

        #[test]
        fn the_walk_agrees_with_decode_on_any_text(s in any::<String>()) {
            prop_assert_eq!(walked(&s), decode_by_field(&s).ok());
        }

        #[test]
        fn the_walk_reads_every_valid_header(sw8 in valid_sw8()) {
            prop_assert_eq!(walked(&sw8.encode()), Some(sw8));
        }

        #[test]
        fn the_walk_agrees_with_decode_on_header_shaped_input(
            parts in proptest::collection::vec("[A-Za-z0-9+/=_ -]{0,12}", 6..10)
        ) {
            let header = parts.join("-");
            prop_assert_eq!(walked(&header), decode_by_field(&header).ok());
        }

        #[test]
        fn borrowed_parser_agrees_on_any_text(s in any::<String>()) {
            prop_assert_eq!(Sw8::decode(&s), decode_with_engine(&s));
        }

        #[test]
        fn round_trip(sw8 in valid_sw8()) {
            let header = sw8.encode();
            prop_assert!(header.len() <= SW8_MAX_LEN);
            prop_assert_eq!(header.len(), sw8.view().encoded_len());
            prop_assert_eq!(sw8.view().validate(), Ok(()));
            prop_assert_eq!(decode_with_engine(&header), Ok(sw8.clone()));
            prop_assert_eq!(Sw8::decode(&header), Ok(sw8));
        }

        #[test]
        fn validate_agrees_with_decode(
            sample in any::<bool>(),
            trace_id in field(SW8_MAX_ID_LEN + 2),
            service in field(SW8_MAX_SERVICE_LEN + 2),
            endpoint in field(SW8_MAX_ENDPOINT_LEN + 2),
            address in field(SW8_MAX_ADDRESS_LEN + 2),
            span_id in 0..=i32::MAX,
        ) {
            let view = Sw8Ref {
                sample,
                trace_id: &trace_id,
                parent_segment_id: "seg",
                parent_span_id: span_id,
                parent_service: &service,
                parent_service_instance: "ins",
                parent_endpoint: &endpoint,
                address_used_at_client: &address,
            };
            prop_assert_eq!(view.validate().is_ok(), Sw8::decode(&view.encode()).is_ok());
        }
    }
}
