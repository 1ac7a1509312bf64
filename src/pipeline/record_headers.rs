//! Kafka record headers read as bytes, and the input headers the worker passes on.
//!
//! Header names are bytes on the wire, and any producer can send names that are not UTF-8.
//! rdkafka 0.39's `Headers::iter` and `Headers::get` panic on such a name (`to_str().unwrap()`),
//! so one input header could kill the worker on every restart: every header read from input
//! goes through [`raw_headers`] instead, and headers are passed on as librdkafka copies or rebuilt
//! from their raw name bytes, never from names decoded as `&str`.

use super::output::headers::{ERROR_PREFIXES, SOURCE_PREFIX};
use rdkafka::bindings as rd;
use rdkafka::message::{BorrowedHeaders, BorrowedMessage, Headers, OwnedHeaders};
use rdkafka::Message;
use std::ffi::{c_char, c_void, CStr};

/// One header: its name and its value (`None` for a null value).
pub type RawHeader<'h> = (&'h [u8], Option<&'h [u8]>);

/// The headers in order, names as bytes. (A name is read up to its first NUL byte, if it holds
/// one: librdkafka hands out names as C strings. The copies passed on keep the whole name.)
pub fn raw_headers(headers: &OwnedHeaders) -> impl Iterator<Item = RawHeader<'_>> {
    raw(headers.as_borrowed())
}

/// [`raw_headers`] of a message just polled.
pub fn raw_headers_of<'m>(message: &'m BorrowedMessage<'_>) -> impl Iterator<Item = RawHeader<'m>> {
    message.headers().into_iter().flat_map(raw)
}

/// Only for references rdkafka made from a live header list (`OwnedHeaders::as_borrowed`,
/// `BorrowedMessage::headers`): `BorrowedHeaders` is a unit struct whose address is
/// librdkafka's `rd_kafka_headers_t` (rdkafka builds them with `&*(ptr as *const
/// BorrowedHeaders)`), so one made any other way points at nothing.
fn raw(headers: &BorrowedHeaders) -> impl Iterator<Item = RawHeader<'_>> {
    let native = std::ptr::from_ref(headers).cast::<rd::rd_kafka_headers_t>();
    (0..headers.count()).map_while(move |idx| {
        let mut name: *const c_char = std::ptr::null();
        let mut value: *const c_void = std::ptr::null();
        let mut size = 0usize;
        // SAFETY: `native` is a live header list borrowed for the iterator's lifetime; librdkafka
        // returns pointers into it (a NUL-terminated name, `size` bytes of value or NULL), which
        // stay valid while it is not modified, and it cannot be through a shared borrow.
        unsafe {
            if rd::rd_kafka_header_get_all(native, idx, &mut name, &mut value, &mut size)
                != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
            {
                return None;
            }
            let value = (!value.is_null()).then(|| std::slice::from_raw_parts(value.cast::<u8>(), size));
            Some((CStr::from_ptr(name).to_bytes(), value))
        }
    })
}

/// Whether a header name is one of the worker's dead-letter error headers (or Kafka Connect's).
pub fn is_error_header(name: &[u8]) -> bool {
    ERROR_PREFIXES.iter().any(|prefix| name.starts_with(prefix.as_bytes()))
}

/// The bytes of the names and values of `headers`, as counted against the in-flight bound.
pub fn byte_size(headers: &OwnedHeaders) -> usize {
    raw_headers(headers).map(|(name, value)| name.len() + value.map_or(0, <[u8]>::len)).sum()
}

/// A copy of `headers` in order, null values kept, less error headers (an input that is a
/// replayed dead letter must not pass on the error headers of its earlier failure) and, with
/// `drop_source`, less source headers (a record that gets this worker's must not carry an
/// earlier enrichment's beside them). `None` when nothing is left.
pub fn forwardable(headers: &OwnedHeaders, drop_source: bool) -> Option<OwnedHeaders> {
    let stale = |name: &[u8]| is_error_header(name) || (drop_source && name.starts_with(SOURCE_PREFIX.as_bytes()));
    if !raw_headers(headers).any(|(name, _)| stale(name)) {
        return (headers.count() > 0).then(|| headers.clone());
    }
    // Built anew from the headers kept, in one pass: removing each stale name from a copy scans
    // the whole list per name, which for tens of thousands of headers took seconds.
    let kept = OwnedHeaders::new_with_capacity(headers.count());
    let native = std::ptr::from_ref(kept.as_borrowed()).cast::<rd::rd_kafka_headers_t>().cast_mut();
    for (name, value) in raw_headers(headers).filter(|(name, _)| !stale(name)) {
        let (value_ptr, value_len) = value.map_or((std::ptr::null(), 0), |v| (v.as_ptr().cast::<c_void>(), v.len()));
        // SAFETY: `kept` is a fresh, writable list owned here and not borrowed elsewhere;
        // librdkafka copies `name_size` bytes of the name (any bytes) and `value_size` bytes of
        // the value (none for a null value), which the slices hold.
        unsafe {
            rd::rd_kafka_header_add(
                native,
                name.as_ptr().cast::<c_char>(),
                name.len() as isize,
                value_ptr,
                value_len as isize,
            )
        };
    }
    (kept.count() > 0).then_some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::message::Header;

    #[test]
    fn raw_headers_keep_order_and_null_values() {
        let headers = OwnedHeaders::new()
            .insert(Header { key: "a", value: Some("1") })
            .insert(Header { key: "null", value: None::<&str> })
            .insert(Header { key: "empty", value: Some("") });
        let got: Vec<RawHeader<'_>> = raw_headers(&headers).collect();
        assert_eq!(got, vec![(&b"a"[..], Some(&b"1"[..])), (&b"null"[..], None), (&b"empty"[..], Some(&b""[..]))]);
        assert_eq!(byte_size(&headers), 1 + 1 + 4 + 5);
    }

    /// Headers with one name that is not UTF-8, as a non-Java producer may send (rdkafka's
    /// safe API only takes `&str` names).
    fn with_binary_name() -> OwnedHeaders {
        let headers = OwnedHeaders::new().insert(Header { key: "before", value: Some("1") });
        let native = std::ptr::from_ref(headers.as_borrowed()).cast::<rd::rd_kafka_headers_t>().cast_mut();
        let name = b"\xff\xfebin";
        // SAFETY: a fresh header list owned here; librdkafka copies the name and value.
        let err = unsafe {
            rd::rd_kafka_header_add(native, name.as_ptr().cast(), name.len() as isize, b"v".as_ptr().cast(), 1)
        };
        assert_eq!(err, rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR);
        headers.insert(Header { key: "__connect.errors.stage", value: Some("decode") })
    }

    #[test]
    fn names_that_are_not_utf8_are_read_counted_and_passed_on() {
        let headers = with_binary_name();
        let got: Vec<RawHeader<'_>> = raw_headers(&headers).collect();
        assert_eq!(got[1], (&b"\xff\xfebin"[..], Some(&b"v"[..])));
        assert_eq!(byte_size(&headers), 6 + 1 + 5 + 1 + 22 + 6);
        let kept = forwardable(&headers, false).unwrap();
        let names: Vec<&[u8]> = raw_headers(&kept).map(|(n, _)| n).collect();
        assert_eq!(names, vec![&b"before"[..], &b"\xff\xfebin"[..]]);
        // What this module exists for: rdkafka's own reader panics on that name.
        let panicked = std::panic::catch_unwind(|| headers.iter().count()).is_err();
        assert!(panicked, "rdkafka reads header names safely now: raw_headers may be replaced by Headers::iter");
    }

    #[test]
    fn forwardable_keeps_order_and_values_among_many_stale_headers() {
        let mut headers = OwnedHeaders::new();
        for i in 0..20_000 {
            let stale = format!("__connect.errors.h{i}");
            headers = headers.insert(Header { key: &stale, value: Some("x") });
            let key = format!("keep-{i}");
            headers = headers.insert(Header { key: &key, value: (i % 3 != 0).then_some("v") });
        }
        let kept = forwardable(&headers, false).unwrap();
        let got: Vec<(String, bool)> =
            raw_headers(&kept).map(|(n, v)| (String::from_utf8_lossy(n).into_owned(), v.is_some())).collect();
        let expected: Vec<(String, bool)> = (0..20_000).map(|i| (format!("keep-{i}"), i % 3 != 0)).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn forwardable_removes_every_error_header_and_nothing_else() {
        let headers = OwnedHeaders::new()
            .insert(Header { key: "__connect.errors.topic", value: Some("x") })
            .insert(Header { key: "keep", value: Some("1") })
            .insert(Header { key: "__connect.errors.topic", value: Some("y") })
            .insert(Header { key: "news_enricher.errors.payload.omitted", value: Some("z") })
            .insert(Header { key: "__connect.errorsX", value: Some("kept: not the prefix") });
        let kept = forwardable(&headers, false).unwrap();
        let names: Vec<&[u8]> = raw_headers(&kept).map(|(n, _)| n).collect();
        assert_eq!(names, vec![&b"keep"[..], &b"__connect.errorsX"[..]]);
        assert_eq!(headers.count(), 5, "the input's own headers are untouched");
        let only_errors = OwnedHeaders::new().insert(Header { key: "__connect.errors.stage", value: Some("decode") });
        assert!(forwardable(&only_errors, false).is_none());
    }
}
