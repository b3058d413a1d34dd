//! Records a panic's message on the span that was running when it happened.
//!
//! The hook runs before unwinding starts, while the panicking span is still the current
//! one; it logs `event=error`, `error.kind=panic` and the message there, then calls the
//! hook that was installed before. Spans closed during the unwinding are marked as errors
//! by the close path itself (it checks `std::thread::panicking()`).

use std::sync::Once;

use crate::record::Str;

pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if crate::trace::context::has_current() {
                let payload = info.payload();
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "Box<dyn Any>".to_owned());
                let mut fields: Vec<(Str, Str)> = vec![
                    ("event".into(), "error".into()),
                    ("error.kind".into(), "panic".into()),
                    ("message".into(), message.into()),
                ];
                if let Some(location) = info.location() {
                    fields.push(("location".into(), location.to_string().into()));
                }
                crate::trace::context::log_on_current(fields, true);
            }
            previous(info);
        }));
    });
}
