//! What a dump says of one task.

use std::panic::Location;

use crate::task::TaskStatus;

/// What a dump says of one task; see [`Handle::dump`](crate::runtime::Handle::dump).
#[derive(Clone, Debug)]
pub struct TaskInfo {
    pub(super) id: u64,
    pub(super) name: Option<Box<str>>,
    pub(super) location: &'static Location<'static>,
    pub(super) status: TaskStatus,
    pub(super) polls: u32,
    pub(super) local: bool,
}

impl TaskInfo {
    /// The task's id: unique among the runtime's tasks for its lifetime.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The name given with [`task::Builder::name`](crate::task::Builder::name).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Where the task was spawned.
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }

    /// What it is doing.
    pub fn status(&self) -> TaskStatus {
        self.status
    }

    /// How many times it has been polled.
    pub fn polls(&self) -> u32 {
        self.polls
    }

    /// Whether it was spawned with `spawn_local` (and runs on one thread).
    pub fn is_local(&self) -> bool {
        self.local
    }
}

impl std::fmt::Display for TaskInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "task {} {:?} at {}: {}, {} polls{}",
            self.id,
            self.name().unwrap_or(""),
            self.location,
            self.status,
            self.polls,
            if self.local { ", local" } else { "" }
        )
    }
}
