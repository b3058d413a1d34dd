//! The trace core: the context of a thread or task, spans, futures that carry the
//! context, the glue to the header codecs, sampling and the panic hook.

pub(crate) mod call;
pub(crate) mod context;
pub(crate) mod future;
pub(crate) mod keep;
pub(crate) mod panic_hook;
pub(crate) mod pool;
pub(crate) mod remote;
pub(crate) mod sampling;
pub(crate) mod span;
