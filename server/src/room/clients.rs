//! The connections of one room on this node, each with a bounded outbound queue.
//!
//! Delivery never waits: a frame goes into a client's queue with `try_send`, and a client whose
//! queue is full is cut off (it reconnects and resumes) so that one slow reader cannot hold up
//! the room.

use super::state::{ConnKey, Identity};
use app::protocol::{UserId, close};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Who a frame is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Audience {
    Everyone,
    /// Teachers, co-teachers and moderators.
    Staff,
    Students,
    /// A private thread: the staff and this student.
    Thread(UserId),
    /// Every connection of one user.
    User(UserId),
    Conn(ConnKey),
}

impl Audience {
    pub fn includes(self, key: ConnKey, who: &Identity) -> bool {
        match self {
            Audience::Everyone => true,
            Audience::Staff => who.role.is_staff(),
            Audience::Students => !who.role.is_staff(),
            Audience::Thread(student) => who.role.is_staff() || who.user == student,
            Audience::User(user) => who.user == user,
            Audience::Conn(k) => k == key,
        }
    }
}

/// What goes down one connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outgoing {
    /// An encoded `ServerMsg`, shared by every recipient.
    Frame(Arc<str>),
    /// Close the socket with this code and reason, after what is queued.
    Close { code: u16, reason: String },
}

/// The sending half that the room holds for one local connection.
pub struct ClientSink {
    pub queue: mpsc::Sender<Outgoing>,
    /// Fired (with a close code) to cut the connection off at once, bypassing the queue.
    pub kick: oneshot::Sender<u16>,
}

struct LocalClient {
    who: Identity,
    queue: mpsc::Sender<Outgoing>,
    kick: Option<oneshot::Sender<u16>>,
}

/// The local connections of one room.
#[derive(Default)]
pub struct LocalClients {
    clients: HashMap<ConnKey, LocalClient>,
}

impl LocalClients {
    pub fn add(&mut self, key: ConnKey, who: Identity, sink: ClientSink) {
        self.clients.insert(key, LocalClient { who, queue: sink.queue, kick: Some(sink.kick) });
    }

    pub fn remove(&mut self, key: ConnKey) -> bool {
        self.clients.remove(&key).is_some()
    }

    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    pub fn len(&self) -> usize {
        self.clients.len()
    }

    pub fn keys(&self) -> Vec<ConnKey> {
        self.clients.keys().copied().collect()
    }

    /// Queue `item` for every local connection in `audience`. Returns the connections that were
    /// cut off because their queue was full; the caller treats them as gone.
    pub fn deliver(&mut self, audience: Audience, item: &Outgoing) -> Vec<ConnKey> {
        let mut too_slow = Vec::new();
        for (key, client) in &mut self.clients {
            if !audience.includes(*key, &client.who) {
                continue;
            }
            match client.queue.try_send(item.clone()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    if let Some(kick) = client.kick.take() {
                        let _ = kick.send(close::TOO_SLOW);
                    }
                    too_slow.push(*key);
                }
                // The connection is already closing; its leave is on its way.
                Err(mpsc::error::TrySendError::Closed(_)) => {}
            }
        }
        for key in &too_slow {
            self.clients.remove(key);
        }
        too_slow
    }

    /// Cut every local connection off with `code` (the room is closing or moving).
    pub fn kick_all(&mut self, code: u16) {
        for (_, mut client) in self.clients.drain() {
            if let Some(kick) = client.kick.take() {
                let _ = kick.send(code);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::protocol::RoomRole;

    fn sink(capacity: usize) -> (ClientSink, mpsc::Receiver<Outgoing>, oneshot::Receiver<u16>) {
        let (queue, rx) = mpsc::channel(capacity);
        let (kick, kicked) = oneshot::channel();
        (ClientSink { queue, kick }, rx, kicked)
    }

    #[test]
    fn a_full_queue_cuts_that_client_off_and_no_other() {
        let mut clients = LocalClients::default();
        let slow_key = ConnKey { node: 1, conn: 1 };
        let fast_key = ConnKey { node: 1, conn: 2 };
        let (slow, _slow_rx, mut slow_kicked) = sink(2);
        let (fast, mut fast_rx, _fast_kicked) = sink(100);
        let student = |user| Identity { user, name: "s".into(), role: RoomRole::Student };
        clients.add(slow_key, student(1), slow);
        clients.add(fast_key, student(2), fast);
        let frame = Outgoing::Frame("{}".into());
        let mut dropped = Vec::new();
        for _ in 0..10 {
            dropped.extend(clients.deliver(Audience::Everyone, &frame));
            // The fast client reads as it goes.
            while fast_rx.try_recv().is_ok() {}
        }
        assert_eq!(dropped, vec![slow_key]);
        assert_eq!(slow_kicked.try_recv(), Ok(close::TOO_SLOW));
        assert_eq!(clients.len(), 1);
    }

    #[test]
    fn audiences_select_by_role_and_user() {
        let student = Identity { user: 5, name: "s".into(), role: RoomRole::Student };
        let teacher = Identity { user: 1, name: "t".into(), role: RoomRole::CoTeacher };
        let k = ConnKey { node: 1, conn: 1 };
        assert!(Audience::Thread(5).includes(k, &student));
        assert!(Audience::Thread(5).includes(k, &teacher));
        assert!(!Audience::Thread(6).includes(k, &student));
        assert!(!Audience::Staff.includes(k, &student));
        assert!(!Audience::Students.includes(k, &teacher));
        assert!(Audience::Conn(k).includes(k, &student));
        assert!(!Audience::Conn(ConnKey { node: 2, conn: 1 }).includes(k, &student));
    }
}
