//! Grouping one collection of meter data into `MeterDataCollection` messages.
//!
//! OAP runs its meter rules once per `MeterDataCollection`, on the data of that message
//! alone, so a meter whose data sit in two messages is processed in two runs, each seeing
//! part of it (an aggregation over its labels then sees part of the labels). So all the
//! data of one collection go in one message while it stays under
//! [`MAX_COLLECTION_BYTES`] encoded; past that, the data are split between meter names,
//! never inside one name. Only a single name whose data alone exceed the bound is split,
//! between its label sets; one `MeterData` (one label set, or a histogram with all its
//! buckets) is never split.

use std::collections::HashMap;

use skywalking_proto::v3;
use skywalking_proto::v3::meter_data::Metric;

use super::{MAX_COLLECTION_BYTES, name_of};

/// Groups meter data into `collectBatch` messages, setting the service, instance and
/// timestamp on each datum. One message unless the data exceed
/// [`MAX_COLLECTION_BYTES`]; see the [module docs](self).
pub(crate) fn batches(
    data: Vec<v3::MeterData>,
    service: &str,
    instance: &str,
    timestamp: i64,
) -> Vec<v3::MeterDataCollection> {
    batches_within(data, service, instance, timestamp, MAX_COLLECTION_BYTES)
}

/// [`batches`], with messages of at most `limit` bytes (where the data allow it).
fn batches_within(
    mut data: Vec<v3::MeterData>,
    service: &str,
    instance: &str,
    timestamp: i64,
    limit: usize,
) -> Vec<v3::MeterDataCollection> {
    for item in &mut data {
        item.service = service.to_owned();
        item.service_instance = instance.to_owned();
        item.timestamp = timestamp;
    }
    let mut packer = Packer {
        limit,
        done: Vec::new(),
        open: Vec::new(),
        open_bytes: 0,
    };
    let total: usize = data.iter().map(item_bytes).sum();
    if total <= limit {
        packer.add(data, total);
        return packer.finish();
    }
    for group in group_by(data, |d| name_of(d).to_owned()) {
        let bytes: usize = group.iter().map(item_bytes).sum();
        if bytes <= limit {
            packer.add(group, bytes);
            continue;
        }
        // Too big for one message on its own: split between label sets.
        for unit in group_by(group, |d| (name_of(d).to_owned(), labels_of(d))) {
            let bytes = unit.iter().map(item_bytes).sum();
            packer.add(unit, bytes);
        }
    }
    packer.finish()
}

/// Fills messages in order, starting a new one when the next unit would not fit.
struct Packer {
    limit: usize,
    done: Vec<v3::MeterDataCollection>,
    open: Vec<v3::MeterData>,
    open_bytes: usize,
}

impl Packer {
    /// Adds a unit that must not be split (alone in a message if it exceeds the limit).
    fn add(&mut self, unit: Vec<v3::MeterData>, bytes: usize) {
        if !self.open.is_empty() && self.open_bytes + bytes > self.limit {
            self.close();
        }
        self.open.extend(unit);
        self.open_bytes += bytes;
    }

    fn close(&mut self) {
        let meter_data = std::mem::take(&mut self.open);
        self.open_bytes = 0;
        if !meter_data.is_empty() {
            self.done.push(v3::MeterDataCollection { meter_data });
        }
    }

    fn finish(mut self) -> Vec<v3::MeterDataCollection> {
        self.close();
        self.done
    }
}

/// Splits `data` into groups of equal keys, in the order each key first appears.
fn group_by<K: std::hash::Hash + Eq>(
    data: Vec<v3::MeterData>,
    key: impl Fn(&v3::MeterData) -> K,
) -> Vec<Vec<v3::MeterData>> {
    let mut index: HashMap<K, usize> = HashMap::new();
    let mut groups: Vec<Vec<v3::MeterData>> = Vec::new();
    for item in data {
        let next = groups.len();
        let slot = *index.entry(key(&item)).or_insert(next);
        if slot == next {
            groups.push(Vec::new());
        }
        groups[slot].push(item);
    }
    groups
}

fn labels_of(data: &v3::MeterData) -> Vec<(String, String)> {
    let labels = match &data.metric {
        Some(Metric::SingleValue(v)) => &v.labels,
        Some(Metric::Histogram(h)) => &h.labels,
        None => return Vec::new(),
    };
    labels
        .iter()
        .map(|l| (l.name.clone(), l.value.clone()))
        .collect()
}

/// Bytes of a base-128 varint.
fn varint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// Bytes of a length-delimited field of `len` bytes (field numbers below 16: a one-byte
/// key).
fn field_len(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

fn label_len(label: &v3::Label) -> usize {
    field_len(field_len(label.name.len()) + field_len(label.value.len()))
}

/// A bucket at its largest: a double, a 10-byte varint and a bool, each with its key.
const BUCKET_MAX: usize = 1 + 1 + (1 + 8) + (1 + 10) + (1 + 1);

/// An upper bound of the bytes `data` adds to a `MeterDataCollection` (proto3 leaves out
/// default values, which this counts anyway), without encoding it.
fn item_bytes(data: &v3::MeterData) -> usize {
    let metric = match &data.metric {
        Some(Metric::SingleValue(v)) => field_len(
            field_len(v.name.len()) + v.labels.iter().map(label_len).sum::<usize>() + 1 + 8,
        ),
        Some(Metric::Histogram(h)) => field_len(
            field_len(h.name.len())
                + h.labels.iter().map(label_len).sum::<usize>()
                + h.values.len() * BUCKET_MAX,
        ),
        None => 0,
    };
    let timestamp = 1 + 10;
    field_len(
        metric + field_len(data.service.len()) + field_len(data.service_instance.len()) + timestamp,
    )
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::super::single;
    use super::*;

    fn label(name: &str, value: &str) -> v3::Label {
        v3::Label {
            name: name.to_owned(),
            value: value.to_owned(),
        }
    }

    fn histogram(name: &str, buckets: usize) -> v3::MeterData {
        v3::MeterData {
            metric: Some(Metric::Histogram(v3::MeterHistogram {
                name: name.to_owned(),
                labels: vec![label("route", "/pay")],
                values: (0..buckets)
                    .map(|i| v3::MeterBucketValue {
                        bucket: i as f64 * 10.0,
                        count: i64::MAX - i as i64,
                        is_negative_infinity: i == 0,
                    })
                    .collect(),
            })),
            ..Default::default()
        }
    }

    /// Name and label values per message, in order.
    fn layout(batches: &[v3::MeterDataCollection]) -> Vec<Vec<String>> {
        batches
            .iter()
            .map(|b| {
                b.meter_data
                    .iter()
                    .map(|d| {
                        let labels: Vec<String> =
                            labels_of(d).into_iter().map(|(_, v)| v).collect();
                        format!("{}{labels:?}", name_of(d))
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_size_bound_holds_and_is_close() {
        let mut data = vec![
            single("m", Vec::new(), 0.0),
            single("a_longer_name", vec![label("k", "v"), label("", "")], 1.5),
            histogram("h", 12),
            v3::MeterData::default(),
        ];
        for d in &mut data {
            d.service = "svc".into();
            d.service_instance = "instance-1@host".into();
            d.timestamp = 1_700_000_000_000;
        }
        for d in &data {
            let exact = v3::MeterDataCollection {
                meter_data: vec![d.clone()],
            }
            .encoded_len();
            let bound = item_bytes(d);
            assert!(bound >= exact, "{bound} < {exact} for {d:?}");
            assert!(
                bound <= exact + 64,
                "{bound} too far above {exact} for {d:?}"
            );
        }
        let all = v3::MeterDataCollection {
            meter_data: data.clone(),
        };
        assert!(data.iter().map(item_bytes).sum::<usize>() >= all.encoded_len());
        assert_eq!(varint_len(0), 1);
        assert_eq!(varint_len(127), 1);
        assert_eq!(varint_len(128), 2);
        assert_eq!(varint_len(u64::MAX), 10);
    }

    #[test]
    fn one_message_when_it_fits_with_the_identity() {
        let data: Vec<v3::MeterData> = (0..5_000)
            .map(|i| single("m", vec![label("i", &i.to_string())], i as f64))
            .collect();
        let sent = batches(data, "svc", "inst", 42);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].meter_data.len(), 5_000);
        assert!(sent[0].encoded_len() <= MAX_COLLECTION_BYTES);
        assert!(
            sent[0]
                .meter_data
                .iter()
                .all(|d| d.service == "svc" && d.service_instance == "inst" && d.timestamp == 42)
        );
        assert!(batches(Vec::new(), "svc", "inst", 42).is_empty());
    }

    #[test]
    fn a_split_keeps_each_meter_name_in_one_message() {
        // a{0} b{0} a{1} c a{2} h: interleaved label sets of `a`, and a histogram.
        let data = vec![
            single("a", vec![label("k", "0")], 0.0),
            single("b", vec![label("k", "0")], 0.0),
            single("a", vec![label("k", "1")], 1.0),
            single("c", Vec::new(), 0.0),
            single("a", vec![label("k", "2")], 2.0),
            histogram("h", 8),
        ];
        let size = |d: &v3::MeterData| {
            let mut d = d.clone();
            d.service = "s".into();
            d.service_instance = "i".into();
            item_bytes(&d)
        };
        let a: usize = data.iter().filter(|d| name_of(d) == "a").map(size).sum();
        // Room for all of `a`, not for `a` and `b` together.
        let limit = a + size(&data[1]) - 1;
        let batches = batches_within(data.clone(), "s", "i", 1, limit);
        assert_eq!(
            layout(&batches),
            [
                vec![r#"a["0"]"#, r#"a["1"]"#, r#"a["2"]"#],
                vec![r#"b["0"]"#, "c[]"],
                vec![r#"h["/pay"]"#],
            ]
        );
        // Every datum arrives once, and the histogram keeps all its buckets.
        assert_eq!(batches.iter().map(|b| b.meter_data.len()).sum::<usize>(), 6);
        let Some(Metric::Histogram(h)) = &batches[2].meter_data[0].metric else {
            panic!("not the histogram");
        };
        assert_eq!(h.values.len(), 8);
        // Within the bound, but for a datum too big on its own.
        for batch in batches.iter().filter(|b| b.meter_data.len() > 1) {
            assert!(
                batch.encoded_len() <= limit,
                "{} > {limit}",
                batch.encoded_len()
            );
        }
    }

    #[test]
    fn a_name_too_big_alone_splits_only_between_label_sets() {
        let data = vec![
            single("a", vec![label("k", "0")], 0.0),
            single("a", vec![label("k", "1")], 1.0),
            single("a", vec![label("k", "2")], 2.0),
            histogram("h", 50),
        ];
        let mut one = data[0].clone();
        one.service = "s".into();
        one.service_instance = "i".into();
        // Two label sets of `a` per message; the histogram alone exceeds the bound and
        // goes whole, in a message of its own.
        let limit = 2 * item_bytes(&one);
        let batches = batches_within(data, "s", "i", 1, limit);
        assert_eq!(
            layout(&batches),
            [
                vec![r#"a["0"]"#, r#"a["1"]"#],
                vec![r#"a["2"]"#],
                vec![r#"h["/pay"]"#],
            ]
        );
        let Some(Metric::Histogram(h)) = &batches[2].meter_data[0].metric else {
            panic!("not the histogram");
        };
        assert_eq!(h.values.len(), 50);
    }
}
