//! `Registration` and `PollEvented`: a mio source tied to the reactor.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use mio::event::Source;

use super::driver::{IoHandle, shut_down_error};
use super::scheduled_io::{ReadyEvent, ScheduledIo};
use super::{Interest, Ready};

/// A source's slot in the reactor: waits for readiness and runs operations
/// until they would block.
#[derive(Debug)]
pub(crate) struct Registration {
    handle: Arc<IoHandle>,
    io: Arc<ScheduledIo>,
    key: usize,
    /// Whether the slot is still ours to free.
    registered: bool,
}

/// A mio source with its registration: what every pollen socket wraps.
///
/// Dropping it deregisters the source, then closes it.
#[derive(Debug)]
pub(crate) struct PollEvented<E: Source> {
    io: Option<E>,
    registration: Registration,
}

// === impl Registration ===

impl Registration {
    /// Registers `source` with the reactor of the runtime this thread is in.
    pub(crate) fn new(source: &mut impl Source, interest: Interest) -> io::Result<Registration> {
        let handle = crate::runtime::context::io_handle()?;
        let (io, key) = handle.add(source, interest)?;
        Ok(Registration {
            handle,
            io,
            key,
            registered: true,
        })
    }

    /// Waits until the source is ready for `interest` (one direction).
    #[inline]
    pub(crate) fn poll_ready(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
    ) -> Poll<io::Result<ReadyEvent>> {
        let event = ready!(self.io.poll_ready(cx, interest));
        if event.is_shutdown {
            return Poll::Ready(Err(shut_down_error()));
        }
        Poll::Ready(Ok(event))
    }

    /// The readiness now, without waiting.
    pub(crate) fn readiness(&self, interest: Interest) -> Ready {
        self.io.ready_event(interest).ready
    }

    /// Forgets readiness after an operation hit `WouldBlock`.
    #[inline]
    pub(crate) fn clear_readiness(&self, event: ReadyEvent) {
        self.io.clear_readiness(event);
    }

    /// Runs `op` when the source is ready for `interest`, until it does not
    /// return `WouldBlock`. Edge-triggered: readiness is cleared only after
    /// an operation found the source not ready, so no event is lost. Spends
    /// one unit of the task's [budget](pollen_core::task::coop).
    #[inline]
    pub(crate) fn poll_io<R>(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
        op: impl FnMut() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_with(cx, interest, op, |_| false)
    }

    /// [`poll_io`](Self::poll_io), also clearing readiness after a result
    /// for which `drained` says the source has nothing more for now.
    pub(crate) fn poll_io_with<R>(
        &self,
        cx: &mut Context<'_>,
        interest: Interest,
        mut op: impl FnMut() -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> Poll<io::Result<R>> {
        // Each completed operation spends one unit of the task's budget, so
        // a socket that always has data cannot keep its worker for ever.
        let coop = ready!(pollen_core::task::coop::poll_proceed(cx));
        loop {
            let event = ready!(self.poll_ready(cx, interest))?;
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.clear_readiness(event),
                result => {
                    if result.as_ref().is_ok_and(&drained) {
                        self.clear_readiness(event);
                    }
                    coop.made_progress();
                    return Poll::Ready(result);
                }
            }
        }
    }

    /// Runs `op` once if the source looks ready for `interest`, without
    /// waiting: the `try_*` operations.
    pub(crate) fn try_io<R>(
        &self,
        interest: Interest,
        op: impl FnOnce() -> io::Result<R>,
    ) -> io::Result<R> {
        let event = self.io.ready_event(interest);
        if event.is_shutdown {
            return Err(shut_down_error());
        }
        if event.ready.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let result = op();
        if let Err(e) = &result {
            if e.kind() == io::ErrorKind::WouldBlock {
                self.clear_readiness(event);
            }
        }
        result
    }

    /// Waits for readiness for `interest` (either direction or both).
    pub(crate) async fn ready(&self, interest: Interest) -> io::Result<Ready> {
        std::future::poll_fn(|cx| {
            if interest.is_readable() {
                if let Poll::Ready(event) = self.poll_ready(cx, Interest::READABLE) {
                    let event = event?;
                    return Poll::Ready(Ok(
                        event.ready | self.readiness(Interest::WRITABLE).intersection(interest)
                    ));
                }
            }
            if interest.is_writable() {
                if let Poll::Ready(event) = self.poll_ready(cx, Interest::WRITABLE) {
                    return Poll::Ready(Ok(event?.ready));
                }
            }
            Poll::Pending
        })
        .await
    }

    fn deregister(&mut self, source: &mut impl Source) -> io::Result<()> {
        if !std::mem::replace(&mut self.registered, false) {
            return Ok(());
        }
        self.handle.remove(source, self.key, &self.io)
    }
}

// === impl PollEvented ===

impl<E: Source> PollEvented<E> {
    /// Registers `io` for reading and writing.
    pub(crate) fn new(io: E) -> io::Result<PollEvented<E>> {
        Self::with_interest(io, Interest::READABLE | Interest::WRITABLE)
    }

    /// Registers `io` for `interest`.
    pub(crate) fn with_interest(mut io: E, interest: Interest) -> io::Result<PollEvented<E>> {
        let registration = Registration::new(&mut io, interest)?;
        Ok(PollEvented {
            io: Some(io),
            registration,
        })
    }

    pub(crate) fn registration(&self) -> &Registration {
        &self.registration
    }

    /// The source.
    pub(crate) fn io(&self) -> &E {
        self.io
            .as_ref()
            .expect("pollen: PollEvented used after into_inner")
    }

    /// Runs `op` on the source, mutably, when ready for `interest`, until it
    /// does not return `WouldBlock`; see [`Registration::poll_io`].
    pub(crate) fn poll_io_mut<R>(
        &mut self,
        cx: &mut Context<'_>,
        interest: Interest,
        mut op: impl FnMut(&mut E) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        let io = self
            .io
            .as_mut()
            .expect("pollen: PollEvented used after into_inner");
        self.registration.poll_io(cx, interest, || op(io))
    }

    /// Deregisters the source and gives it back.
    pub(crate) fn into_inner(mut self) -> io::Result<E> {
        let mut io = self
            .io
            .take()
            .expect("pollen: PollEvented used after into_inner");
        self.registration.deregister(&mut io)?;
        Ok(io)
    }
}

impl<E: Source> PollEvented<E>
where
    for<'a> &'a E: Read + Write,
{
    /// Reads into `buf` when readable: for stream sockets (TCP, Unix
    /// streams), whose short read means the receive buffer is empty.
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let len = buf.len();
        self.registration.poll_io_with(
            cx,
            Interest::READABLE,
            || (&mut self.io()).read(buf),
            // A stream socket returns fewer bytes than asked only when its
            // receive buffer ran dry: forget the readiness now rather than
            // learn it from one more `read` that fails with `WouldBlock` (a
            // system call per message saved). Data arriving meanwhile
            // raises a newer event, which the tick check keeps.
            |n| (1..len).contains(n),
        )
    }

    /// Writes from `buf` when writable.
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.registration
            .poll_io(cx, Interest::WRITABLE, || (&mut self.io()).write(buf))
    }

    /// Writes from `bufs` when writable.
    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.registration.poll_io(cx, Interest::WRITABLE, || {
            (&mut self.io()).write_vectored(bufs)
        })
    }
}

impl<E: Source> Drop for PollEvented<E> {
    fn drop(&mut self) {
        if let Some(mut io) = self.io.take() {
            // Deregister before the source closes its descriptor. An error
            // here (the reactor is gone) leaves nothing to clean up.
            let _ = self.registration.deregister(&mut io);
        }
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if self.registered {
            self.handle.release(self.key, &self.io);
        }
    }
}
