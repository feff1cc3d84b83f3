//! The rooms of this node: starts a room's actor on its first join, hands out connection keys,
//! and routes a connection's inputs to its room: the local actor, or (in a cluster) the node
//! that owns the room.

use super::actor::{RemoteFanout, Retire, RoomActor, RoomInput, RoomSetup};
use super::cluster::{Cluster, Route};
use super::state::{ConnKey, NodeId};
use crate::sfu::Sfu;
use lectern_core::AppState;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::mpsc;

/// Inputs waiting for one room's actor; joins wait (briefly) when it is full.
const ROOM_INBOX: usize = 4096;

/// Where one connection's inputs go.
pub enum RoomLink {
    Local(mpsc::Sender<RoomInput>),
    /// The room runs on another node.
    Remote {
        cluster: Arc<Cluster>,
        class_id: i64,
    },
}

impl RoomLink {
    /// False once the room is gone (the connection should end).
    pub async fn send(&self, input: RoomInput) -> bool {
        match self {
            RoomLink::Local(sender) => sender.send(input).await.is_ok(),
            RoomLink::Remote { cluster, class_id } => cluster.forward(*class_id, input).await,
        }
    }
}

type Rooms = Arc<Mutex<HashMap<i64, mpsc::Sender<RoomInput>>>>;

pub struct RoomHub {
    app: AppState,
    node: NodeId,
    next_conn: AtomicU64,
    /// The rooms whose actor runs on this node. The lock guards only this map, never room state.
    rooms: Rooms,
    cluster: Option<Arc<Cluster>>,
    /// The SFU for the rooms whose actor runs here; none when media is off.
    sfu: Option<Arc<Sfu>>,
}

impl RoomHub {
    /// A hub for one node serving its rooms alone.
    pub fn local(app: AppState) -> Arc<Self> {
        Arc::new(Self::with_cluster(app, None, None))
    }

    /// A hub for one node, with audio and video through `sfu`.
    pub fn local_with_media(app: AppState, sfu: Option<Arc<Sfu>>) -> Arc<Self> {
        Arc::new(Self::with_cluster(app, None, sfu))
    }

    /// A hub that shares its rooms with the other nodes of a cluster. A room's media runs on
    /// the node that runs its actor.
    pub fn clustered(app: AppState, cluster: Arc<Cluster>, sfu: Option<Arc<Sfu>>) -> Arc<Self> {
        let hub = Arc::new(Self::with_cluster(app, Some(cluster.clone()), sfu));
        cluster.attach(&hub);
        hub
    }

    fn with_cluster(app: AppState, cluster: Option<Arc<Cluster>>, sfu: Option<Arc<Sfu>>) -> Self {
        let node = cluster.as_ref().map_or_else(random_node_id, |c| c.node());
        Self { app, node, next_conn: AtomicU64::new(1), rooms: Arc::default(), cluster, sfu }
    }

    pub fn app(&self) -> &AppState {
        &self.app
    }

    pub fn node(&self) -> NodeId {
        self.node
    }

    pub fn new_conn_key(&self) -> ConnKey {
        ConnKey { node: self.node, conn: self.next_conn.fetch_add(1, Ordering::Relaxed) }
    }

    /// Rooms with an actor on this node (for tests and health).
    pub fn local_rooms(&self) -> usize {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Send a connection's `Join` to its room, starting the room's actor here if no node runs
    /// it yet. The link returned carries the connection's later inputs.
    pub async fn join(&self, setup: &RoomSetup, join: RoomInput) -> Option<RoomLink> {
        if let Some(cluster) = &self.cluster
            && cluster.route(self, setup).await == Route::Remote
        {
            let link = RoomLink::Remote { cluster: cluster.clone(), class_id: setup.class_id };
            return link.send(join).await.then_some(link);
        }
        self.join_local(setup, join).await.map(RoomLink::Local)
    }

    /// Send a `Join` to the actor on this node, starting it if needed.
    pub(crate) async fn join_local(&self, setup: &RoomSetup, join: RoomInput) -> Option<mpsc::Sender<RoomInput>> {
        let mut input = join;
        // A room that retired between the lookup and the send gives the input back; then a
        // fresh actor takes it.
        for _ in 0..3 {
            let sender = self.actor(setup);
            match sender.send(input).await {
                Ok(()) => return Some(sender),
                Err(mpsc::error::SendError(back)) => {
                    input = back;
                    let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
                    if rooms.get(&setup.class_id).is_some_and(|s| s.same_channel(&sender)) {
                        rooms.remove(&setup.class_id);
                    }
                }
            }
        }
        tracing::error!(class = setup.class_id, "a join was lost: the room kept closing");
        None
    }

    fn actor(&self, setup: &RoomSetup) -> mpsc::Sender<RoomInput> {
        let mut rooms = self.rooms.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = rooms.get(&setup.class_id) {
            return sender.clone();
        }
        let (sender, inbox) = mpsc::channel(ROOM_INBOX);
        rooms.insert(setup.class_id, sender.clone());
        let remote = self.cluster.clone().map(|c| c as Arc<dyn RemoteFanout>);
        let actor = RoomActor::new(setup.clone(), self.app.clone(), remote, self.sfu.clone());
        let retire = retire_hook(self.rooms.clone(), setup.class_id, sender.clone(), self.cluster.clone());
        tokio::spawn(actor.run(inbox, retire));
        sender
    }

    /// An input from another node for a room whose actor runs here; dropped if it does not.
    pub(crate) async fn send_to_running(&self, class_id: i64, input: RoomInput) {
        let sender = self.rooms.lock().unwrap_or_else(PoisonError::into_inner).get(&class_id).cloned();
        if let Some(sender) = sender {
            let _ = sender.send(input).await;
        }
    }

    /// Whether this node runs the room's actor.
    pub(crate) fn runs(&self, class_id: i64) -> bool {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner).contains_key(&class_id)
    }
}

/// An empty room may stop once nothing is waiting in its inbox; it leaves the registry in the
/// same step, so a join either reaches it first or finds no sender and starts a new actor.
fn retire_hook(rooms: Rooms, class_id: i64, sender: mpsc::Sender<RoomInput>, cluster: Option<Arc<Cluster>>) -> Retire {
    Box::new(move |inbox: &mut mpsc::Receiver<RoomInput>| {
        let mut rooms = rooms.lock().unwrap_or_else(PoisonError::into_inner);
        if !inbox.is_empty() {
            return false;
        }
        if rooms.get(&class_id).is_some_and(|s| s.same_channel(&sender)) {
            rooms.remove(&class_id);
        }
        inbox.close();
        if let Some(cluster) = &cluster {
            cluster.release(class_id);
        }
        true
    })
}

pub(crate) fn random_node_id() -> NodeId {
    let mut bytes = [0u8; 8];
    // Without OS randomness, a time-based id is still unique enough for one process.
    if getrandom::fill(&mut bytes).is_err() {
        return lectern_core::now_ms() as u64;
    }
    u64::from_le_bytes(bytes)
}
