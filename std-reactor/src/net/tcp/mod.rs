//! TCP: listener, stream and the stream's halves, and a socket to
//! configure before it becomes one of them.

pub(crate) mod listener;
pub(crate) mod socket;
pub(crate) mod split;
pub(crate) mod stream;
