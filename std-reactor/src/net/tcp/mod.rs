//! TCP: listener, stream and the stream's halves.

pub(crate) mod listener;
pub(crate) mod split;
pub(crate) mod stream;
