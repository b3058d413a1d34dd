//! The W3C Trace Context `traceparent` header.
//!
//! ```text
//! traceparent: 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>
//! ```

use std::str::FromStr;

use super::HeaderError;

/// Header name of the W3C Trace Context parent header.
pub const TRACEPARENT: &str = "traceparent";

/// Cap on a whole `traceparent` value, in bytes. Version `00` is exactly 55 bytes;
/// later versions may append fields, and this bounds them.
pub const TRACEPARENT_MAX_LEN: usize = 512;

/// Length of a version `00` value, and the prefix every version shares.
const V00_LEN: usize = 55;

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A decoded W3C `traceparent` header.
///
/// SkyWalking does not propagate W3C context itself; this is the fallback that lets a
/// request arriving from an OpenTelemetry (or other W3C) caller keep its trace id.
/// It carries no parent segment, service or endpoint, so it cannot become a SkyWalking
/// segment reference.
///
/// ```
/// use skywalking_runtime::propagation::TraceParent;
///
/// let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?;
/// assert_eq!(tp.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
/// assert_eq!(tp.parent_id, 0x00f067aa0ba902b7);
/// assert!(tp.sampled);
/// assert_eq!(tp.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(tp.encode(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// # Ok::<(), skywalking_runtime::propagation::HeaderError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// The 16-byte trace id, big-endian. Never 0 in a valid header.
    pub trace_id: u128,
    /// The 8-byte id of the caller's span, big-endian. Never 0 in a valid header.
    pub parent_id: u64,
    /// The `sampled` bit (bit 0) of the trace flags. Other flag bits are dropped.
    pub sampled: bool,
}

impl TraceParent {
    /// Decodes a `traceparent` value as the W3C Trace Context spec says:
    ///
    /// - the version is two lowercase hex digits and not `ff`;
    /// - version `00` is exactly 55 bytes: `00-<trace id>-<parent id>-<flags>`;
    /// - a higher version is at least 55 bytes, with the same first four fields, and
    ///   if longer, byte 56 is `-` (the rest is ignored, as the spec asks of a parser
    ///   that meets a version it does not know);
    /// - trace id (32), parent id (16) and flags (2) are lowercase hex digits
    ///   (uppercase is invalid), and neither id is all zeros.
    ///
    /// # Errors
    ///
    /// [`HeaderError::TooLong`] over [`TRACEPARENT_MAX_LEN`] bytes,
    /// [`HeaderError::Malformed`] for a wrong length or separator,
    /// [`HeaderError::InvalidHex`], [`HeaderError::ZeroId`],
    /// [`HeaderError::ForbiddenVersion`].
    pub fn decode(value: &str) -> Result<Self, HeaderError> {
        let b = value.as_bytes();
        if b.len() > TRACEPARENT_MAX_LEN {
            return Err(HeaderError::TooLong {
                header: TRACEPARENT,
                len: b.len(),
                max: TRACEPARENT_MAX_LEN,
            });
        }
        let malformed = |reason| HeaderError::Malformed {
            header: TRACEPARENT,
            reason,
        };
        if b.len() < V00_LEN {
            return Err(malformed("shorter than 55 bytes"));
        }
        let version = hex_field(&b[0..2], "version")?;
        if version == 0xff {
            return Err(HeaderError::ForbiddenVersion);
        }
        if b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
            return Err(malformed("`-` separators are not at bytes 3, 36 and 53"));
        }
        if version == 0 && b.len() != V00_LEN {
            return Err(malformed("version 00 is not exactly 55 bytes"));
        }
        if b.len() > V00_LEN && b[V00_LEN] != b'-' {
            return Err(malformed("byte 56 of a longer value is not `-`"));
        }
        let trace_id = hex_field(&b[3..35], "trace id")?;
        // 16 hex digits always fit a u64; the error branch is unreachable.
        let parent_id = u64::try_from(hex_field(&b[36..52], "parent id")?).map_err(|_| {
            HeaderError::InvalidHex {
                field: "parent id",
                len: 16,
            }
        })?;
        let flags = hex_field(&b[53..55], "trace flags")?;
        if trace_id == 0 {
            return Err(HeaderError::ZeroId { field: "trace id" });
        }
        if parent_id == 0 {
            return Err(HeaderError::ZeroId { field: "parent id" });
        }
        Ok(Self {
            trace_id,
            parent_id,
            sampled: flags & 1 == 1,
        })
    }

    /// Encodes a version `00` value (55 bytes, one allocation).
    ///
    /// The ids are written as given; a zero id makes a header that receivers drop
    /// (see [`is_valid`](Self::is_valid)).
    #[must_use]
    pub fn encode(&self) -> String {
        let mut out = [0u8; V00_LEN];
        out[..3].copy_from_slice(b"00-");
        write_hex(&mut out[3..35], self.trace_id);
        out[35] = b'-';
        write_hex(&mut out[36..52], u128::from(self.parent_id));
        out[52..].copy_from_slice(if self.sampled { b"-01" } else { b"-00" });
        ascii_string(&out)
    }

    /// `true` when both ids are non-zero, which the spec requires.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.trace_id != 0 && self.parent_id != 0
    }

    /// The trace id as 32 lowercase hex digits.
    #[must_use]
    pub fn trace_id_hex(&self) -> String {
        let mut out = [0u8; 32];
        write_hex(&mut out, self.trace_id);
        ascii_string(&out)
    }

    /// The parent id as 16 lowercase hex digits.
    #[must_use]
    pub fn parent_id_hex(&self) -> String {
        let mut out = [0u8; 16];
        write_hex(&mut out, u128::from(self.parent_id));
        ascii_string(&out)
    }
}

impl FromStr for TraceParent {
    type Err = HeaderError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TraceParent::decode(s)
    }
}

/// Parses up to 32 lowercase hex digits; the caller passes a slice of the exact
/// expected length.
fn hex_field(digits: &[u8], field: &'static str) -> Result<u128, HeaderError> {
    digits.iter().try_fold(0u128, |acc, &d| {
        let nibble = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => {
                return Err(HeaderError::InvalidHex {
                    field,
                    len: digits.len(),
                });
            }
        };
        Ok((acc << 4) | u128::from(nibble))
    })
}

/// Writes the low `out.len()` nibbles of `value` as lowercase hex, most significant
/// first.
fn write_hex(out: &mut [u8], mut value: u128) {
    for slot in out.iter_mut().rev() {
        *slot = HEX[(value & 0xf) as usize];
        value >>= 4;
    }
}

fn ascii_string(bytes: &[u8]) -> String {
    // Only ASCII hex digits and `-` are ever written, so this never loses data.
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SPEC_EXAMPLE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn malformed(reason: &'static str) -> HeaderError {
        HeaderError::Malformed {
            header: TRACEPARENT,
            reason,
        }
    }

    #[test]
    fn decodes_the_spec_examples() {
        let tp = TraceParent::decode(SPEC_EXAMPLE).expect("valid");
        assert_eq!(tp.trace_id, 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736);
        assert_eq!(tp.parent_id, 0x00f0_67aa_0ba9_02b7);
        assert!(tp.sampled);
        assert_eq!(tp.encode(), SPEC_EXAMPLE);
        assert_eq!(tp.parent_id_hex(), "00f067aa0ba902b7");

        let unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
        assert!(!TraceParent::decode(unsampled).expect("valid").sampled);
    }

    #[test]
    fn keeps_only_the_sampled_flag() {
        // 0x03 = sampled + random (Trace Context level 2), 0x02 = random only.
        let tp = |flags: &str| {
            TraceParent::decode(&format!("{}{flags}", &SPEC_EXAMPLE[..53])).map(|t| t.sampled)
        };
        assert_eq!(tp("03"), Ok(true));
        assert_eq!(tp("02"), Ok(false));
        assert_eq!(tp("ff"), Ok(true));
    }

    #[test]
    fn accepts_future_versions() {
        let v = |s: &str| TraceParent::decode(s).map(|t| t.trace_id_hex());
        let id = Ok("4bf92f3577b34da6a3ce929d0e0e4736".to_owned());
        assert_eq!(
            v("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            id
        );
        assert_eq!(
            v("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-holds"),
            id
        );
        assert_eq!(
            v("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what"),
            Err(malformed("byte 56 of a longer value is not `-`"))
        );
    }

    #[test]
    fn rejections() {
        let d = TraceParent::decode;
        assert_eq!(d(""), Err(malformed("shorter than 55 bytes")));
        assert_eq!(
            d(&SPEC_EXAMPLE[..54]),
            Err(malformed("shorter than 55 bytes"))
        );
        assert_eq!(
            d(&format!("{SPEC_EXAMPLE}-")),
            Err(malformed("version 00 is not exactly 55 bytes"))
        );
        assert_eq!(
            d("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Err(HeaderError::ForbiddenVersion)
        );
        assert_eq!(
            d("0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Err(HeaderError::InvalidHex {
                field: "version",
                len: 2
            })
        );
        assert_eq!(
            d("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
            Err(HeaderError::InvalidHex {
                field: "trace id",
                len: 32
            })
        );
        assert_eq!(
            d("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01"),
            Err(HeaderError::InvalidHex {
                field: "parent id",
                len: 16
            })
        );
        assert_eq!(
            d("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x"),
            Err(HeaderError::InvalidHex {
                field: "trace flags",
                len: 2
            })
        );
        assert_eq!(
            d("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            Err(HeaderError::ZeroId { field: "trace id" })
        );
        assert_eq!(
            d("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
            Err(HeaderError::ZeroId { field: "parent id" })
        );
        assert_eq!(
            d("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Err(malformed("`-` separators are not at bytes 3, 36 and 53"))
        );
        assert_eq!(
            d("00-4bf92f3577b34da6a3ce929d0e0e473-600f067aa0ba902b7-01"),
            Err(malformed("`-` separators are not at bytes 3, 36 and 53"))
        );
        // Multi-byte UTF-8 where a digit should be.
        assert_eq!(
            d("00-4bf92f3577b34da6a3ce929d0e0e47é-00f067aa0ba902b7-01"),
            Err(HeaderError::InvalidHex {
                field: "trace id",
                len: 32
            })
        );
        let long = format!("cc-{}", "a".repeat(600));
        assert_eq!(
            d(&long),
            Err(HeaderError::TooLong {
                header: TRACEPARENT,
                len: long.len(),
                max: TRACEPARENT_MAX_LEN
            })
        );
    }

    #[test]
    fn hex_helpers_pad_with_zeros() {
        let tp = TraceParent {
            trace_id: 1,
            parent_id: 2,
            sampled: false,
        };
        assert_eq!(tp.trace_id_hex(), "00000000000000000000000000000001");
        assert_eq!(tp.parent_id_hex(), "0000000000000002");
        assert_eq!(
            tp.encode(),
            "00-00000000000000000000000000000001-0000000000000002-00"
        );
        assert!(tp.is_valid());
        assert!(!TraceParent { trace_id: 0, ..tp }.is_valid());
    }

    proptest! {
        #[test]
        fn decode_never_panics(s in any::<String>()) {
            let _ = TraceParent::decode(&s);
        }

        #[test]
        fn decode_never_panics_on_latin1_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let s: String = bytes.iter().map(|&b| char::from(b)).collect();
            let _ = TraceParent::decode(&s);
        }

        #[test]
        fn decode_never_panics_on_near_valid_input(
            s in "[0-9a-fA-F]{2}-[0-9a-fé]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-.{0,8})?"
        ) {
            let _ = TraceParent::decode(&s);
        }

        #[test]
        fn round_trip(trace_id in 1..=u128::MAX, parent_id in 1..=u64::MAX, sampled in any::<bool>()) {
            let tp = TraceParent { trace_id, parent_id, sampled };
            let header = tp.encode();
            prop_assert_eq!(header.len(), 55);
            prop_assert_eq!(TraceParent::decode(&header), Ok(tp));
            prop_assert_eq!(u128::from_str_radix(&tp.trace_id_hex(), 16), Ok(trace_id));
            prop_assert_eq!(u64::from_str_radix(&tp.parent_id_hex(), 16), Ok(parent_id));
        }
    }
}
