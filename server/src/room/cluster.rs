//! Several nodes serving one class together, through Redis.
//!
//! Each live room has one owner node, which runs its actor: the first node to get a participant
//! claims the room with `SET <prefix>:room:<class>:owner <node> NX PX <ttl>` and renews the claim
//! while the room runs. Another node that gets a participant of that class relays: it keeps the
//! WebSocket, publishes the participant's inputs on `<prefix>:room:<class>:in`, and delivers what
//! the owner publishes on `<prefix>:room:<class>:out` to its own connections. One actor means one
//! order of events and one copy of the state, whichever node a participant reached. The prefix
//! (`cluster.key_prefix`, default `lectern`) lets several deployments share one Redis.
//!
//! If an owner dies its claim expires; the relaying nodes notice, close their connections with
//! code 4010, and the clients reconnect and resume (chat from the last id they saw), which makes
//! one of the nodes the new owner.

use super::actor::{RemoteFanout, RoomInput, RoomSetup};
use super::clients::{Audience, ClientSink, LocalClients, Outgoing};
use super::hub::{RoomHub, random_node_id};
use super::state::{ConnKey, Identity, NodeId};
use app::protocol::{ClientFrame, close};
use futures_util::StreamExt;
use lectern_core::config::ClusterConfig;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;
use tokio::sync::mpsc;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("cluster.redis_url is not set")]
    NoUrl,
    #[error("cannot reach Redis at {url}: {source}")]
    Redis { url: String, source: redis::RedisError },
}

/// Whether this node runs a room or relays to the node that does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Owner,
    Remote,
}

/// An input on its way to the owner.
#[derive(Serialize, Deserialize)]
struct InMessage {
    from: NodeId,
    input: WireInput,
}

#[derive(Serialize, Deserialize)]
enum WireInput {
    Join { key: ConnKey, who: Identity, resume_after: Option<i64>, setup: WireSetup },
    Leave { key: ConnKey },
    Command { key: ConnKey, frame: ClientFrame },
}

#[derive(Clone, Serialize, Deserialize)]
struct WireSetup {
    title: String,
    occurrence_id: Option<i64>,
}

/// Output of the owner, for the relaying nodes.
#[derive(Serialize, Deserialize)]
struct OutMessage {
    from: NodeId,
    audience: Audience,
    item: Outgoing,
}

/// The connections this node relays for a room owned elsewhere.
struct Relay {
    owner: NodeId,
    /// Connections the owner has answered: they get the room's output.
    clients: LocalClients,
    /// Connections whose join the owner has not handled yet. What the owner published before
    /// it handled a join is not for that connection (its welcome covers it, chat included), so
    /// a connection starts receiving with the first frame addressed to it: its welcome, or the
    /// refusal.
    joining: HashMap<ConnKey, (Identity, ClientSink)>,
    setup: RoomSetup,
}

impl Relay {
    fn new(owner: NodeId, setup: RoomSetup) -> Self {
        Self { owner, clients: LocalClients::default(), joining: HashMap::new(), setup }
    }

    /// Deliver the owner's output; returns the connections cut off as too slow.
    fn deliver(&mut self, audience: Audience, item: &Outgoing) -> Vec<ConnKey> {
        if let Audience::Conn(key) = audience
            && let Some((who, sink)) = self.joining.remove(&key)
        {
            self.clients.add(key, who, sink);
        }
        self.clients.deliver(audience, item)
    }

    fn remove(&mut self, key: ConnKey) {
        self.joining.remove(&key);
        self.clients.remove(key);
    }

    fn is_empty(&self) -> bool {
        self.clients.is_empty() && self.joining.is_empty()
    }

    fn kick_all(&mut self, code: u16) {
        for (_, (_, sink)) in self.joining.drain() {
            let _ = sink.kick.send(code);
        }
        self.clients.kick_all(code);
    }
}

pub struct Cluster {
    node: NodeId,
    url: String,
    /// Starts every key and channel name: `<prefix>:room:`.
    room_prefix: String,
    /// How long a claim lasts without renewal; renewed every third of it.
    claim_ttl: Duration,
    commands: redis::aio::MultiplexedConnection,
    /// Publications, in order, to a single writer task.
    outbox: mpsc::UnboundedSender<(String, String)>,
    relays: Mutex<HashMap<i64, Relay>>,
    owned: Mutex<HashSet<i64>>,
    hub: Mutex<Weak<RoomHub>>,
}

impl Cluster {
    /// Connect to `config.redis_url` and start the subscriber, the publisher and the claim
    /// keeper. Once this returns, the node hears every message for the rooms of its prefix.
    pub async fn connect(config: &ClusterConfig) -> Result<Arc<Self>, ClusterError> {
        let url = config.redis_url.as_deref().ok_or(ClusterError::NoUrl)?;
        let fail = |source| ClusterError::Redis { url: lectern_core::store::redact_url(url), source };
        let client = redis::Client::open(url).map_err(fail)?;
        let commands = client.get_multiplexed_async_connection().await.map_err(fail)?;
        let (outbox, queued) = mpsc::unbounded_channel();
        let claim_ttl = Duration::from_secs(config.claim_ttl_seconds.max(1));
        let room_prefix = format!("{}:room:", config.key_prefix);
        let pattern = format!("{room_prefix}*");
        let cluster = Arc::new(Self {
            node: random_node_id(),
            url: url.to_owned(),
            room_prefix,
            claim_ttl,
            commands: commands.clone(),
            outbox,
            relays: Mutex::default(),
            owned: Mutex::default(),
            hub: Mutex::new(Weak::new()),
        });
        let mut pubsub = client.get_async_pubsub().await.map_err(fail)?;
        pubsub.psubscribe(&pattern).await.map_err(fail)?;
        tokio::spawn(publish_loop(commands, queued));
        tokio::spawn(subscribe_loop(Arc::downgrade(&cluster), client, pubsub, pattern));
        tokio::spawn(keep_claims(Arc::downgrade(&cluster), claim_ttl / 3));
        Ok(cluster)
    }

    pub fn node(&self) -> NodeId {
        self.node
    }

    /// The hub whose local actors receive inputs from other nodes.
    pub fn attach(&self, hub: &Arc<RoomHub>) {
        *self.hub.lock().unwrap_or_else(PoisonError::into_inner) = Arc::downgrade(hub);
    }

    fn hub(&self) -> Option<Arc<RoomHub>> {
        self.hub.lock().unwrap_or_else(PoisonError::into_inner).upgrade()
    }

    /// Own the room (claiming it if no node does) or relay to its owner.
    pub async fn route(&self, hub: &RoomHub, setup: &RoomSetup) -> Route {
        let class_id = setup.class_id;
        if hub.runs(class_id) {
            return Route::Owner;
        }
        let mut conn = self.commands.clone();
        let key = self.room_key(class_id, OWNER);
        let claimed: Result<Option<String>, _> = redis::cmd("SET")
            .arg(&key)
            .arg(self.node.to_string())
            .arg("NX")
            .arg("PX")
            .arg(self.claim_ttl.as_millis() as u64)
            .query_async(&mut conn)
            .await;
        let owner = match claimed {
            Ok(Some(_)) => self.node,
            Ok(None) => match conn.get::<_, Option<String>>(&key).await {
                Ok(Some(owner)) => owner.parse().unwrap_or(self.node),
                // Released just now: run it here; the keeper claims it on its next round.
                Ok(None) => self.node,
                Err(err) => {
                    tracing::warn!(%err, "Redis unavailable; serving the room on this node");
                    self.node
                }
            },
            Err(err) => {
                tracing::warn!(%err, "Redis unavailable; serving the room on this node");
                self.node
            }
        };
        if owner == self.node {
            self.owned.lock().unwrap_or_else(PoisonError::into_inner).insert(class_id);
            return Route::Owner;
        }
        let mut relays = self.relays.lock().unwrap_or_else(PoisonError::into_inner);
        relays.entry(class_id).or_insert_with(|| Relay::new(owner, setup.clone()));
        Route::Remote
    }

    /// Send a local connection's input to the room's owner.
    pub async fn forward(&self, class_id: i64, input: RoomInput) -> bool {
        let wire = {
            let mut relays = self.relays.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(relay) = relays.get_mut(&class_id) else {
                // The relay was reset (its clients were told to reconnect); still tell the owner
                // that this connection left, or it would stay on the roster as a ghost.
                if let RoomInput::Leave { key } = input {
                    drop(relays);
                    let leave = InMessage { from: self.node, input: WireInput::Leave { key } };
                    self.publish(self.room_key(class_id, IN), &leave);
                }
                return false;
            };
            match input {
                RoomInput::Join { key, who, resume_after, sink } => {
                    if let Some(sink) = sink {
                        relay.joining.insert(key, (who.clone(), sink));
                    }
                    let setup =
                        WireSetup { title: relay.setup.title.clone(), occurrence_id: relay.setup.occurrence_id };
                    WireInput::Join { key, who, resume_after, setup }
                }
                RoomInput::Leave { key } => {
                    relay.remove(key);
                    WireInput::Leave { key }
                }
                RoomInput::Command { key, frame } => WireInput::Command { key, frame },
            }
        };
        self.publish(self.room_key(class_id, IN), &InMessage { from: self.node, input: wire });
        true
    }

    /// The room's actor on this node stopped: give up the claim.
    pub fn release(&self, class_id: i64) {
        self.owned.lock().unwrap_or_else(PoisonError::into_inner).remove(&class_id);
        let mut conn = self.commands.clone();
        let node = self.node.to_string();
        let key = self.room_key(class_id, OWNER);
        tokio::spawn(async move {
            let script = redis::Script::new(RELEASE_IF_MINE);
            if let Err(err) = script.key(key).arg(node).invoke_async::<i64>(&mut conn).await {
                tracing::warn!(%err, class = class_id, "cannot release a room claim; it expires by itself");
            }
        });
    }

    fn publish(&self, channel: String, message: &impl Serialize) {
        match serde_json::to_string(message) {
            Ok(payload) => {
                let _ = self.outbox.send((channel, payload));
            }
            Err(err) => tracing::error!(%err, "cannot encode a cluster message"),
        }
    }

    /// A message from Redis: an input for a room we own, or output for connections we relay.
    async fn receive(&self, channel: &str, payload: &str) {
        let Some((class_id, direction)) = parse_channel(&self.room_prefix, channel) else { return };
        match direction {
            IN => {
                let Ok(message) = serde_json::from_str::<InMessage>(payload) else {
                    return tracing::warn!(channel, "undecodable cluster input");
                };
                if message.from == self.node || !self.owns(class_id) {
                    return;
                }
                let Some(hub) = self.hub() else { return };
                let input = match message.input {
                    WireInput::Join { key, who, resume_after, setup } => {
                        let setup = RoomSetup { class_id, title: setup.title, occurrence_id: setup.occurrence_id };
                        hub.join_local(&setup, RoomInput::Join { key, who, resume_after, sink: None }).await;
                        return;
                    }
                    WireInput::Leave { key } => RoomInput::Leave { key },
                    WireInput::Command { key, frame } => RoomInput::Command { key, frame },
                };
                hub.send_to_running(class_id, input).await;
            }
            OUT => {
                let Ok(message) = serde_json::from_str::<OutMessage>(payload) else {
                    return tracing::warn!(channel, "undecodable cluster output");
                };
                if message.from == self.node {
                    return;
                }
                let too_slow = {
                    let mut relays = self.relays.lock().unwrap_or_else(PoisonError::into_inner);
                    let Some(relay) = relays.get_mut(&class_id) else { return };
                    relay.deliver(message.audience, &message.item)
                };
                for key in too_slow {
                    let leave = InMessage { from: self.node, input: WireInput::Leave { key } };
                    self.publish(self.room_key(class_id, IN), &leave);
                }
            }
            _ => {}
        }
    }

    fn owns(&self, class_id: i64) -> bool {
        self.owned.lock().unwrap_or_else(PoisonError::into_inner).contains(&class_id)
    }

    /// Renew our claims; drop relays whose owner changed or vanished (their clients reconnect).
    async fn keep(&self) {
        let mut conn = self.commands.clone();
        let owned: Vec<i64> = self.owned.lock().unwrap_or_else(PoisonError::into_inner).iter().copied().collect();
        for class_id in owned {
            let renew = redis::Script::new(RENEW_IF_MINE);
            let result = renew
                .key(self.room_key(class_id, OWNER))
                .arg(self.node.to_string())
                .arg(self.claim_ttl.as_millis() as u64)
                .invoke_async::<i64>(&mut conn)
                .await;
            if let Err(err) = result {
                tracing::warn!(%err, class = class_id, "cannot renew a room claim");
            }
        }
        let relayed: Vec<(i64, NodeId)> = self
            .relays
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(class, relay)| (*class, relay.owner))
            .collect();
        for (class_id, owner) in relayed {
            let current: Option<String> = match conn.get(self.room_key(class_id, OWNER)).await {
                Ok(current) => current,
                // A failed lookup says nothing about the owner: keep relaying and ask again next
                // round (a lost subscription resets the relays by itself).
                Err(err) => {
                    tracing::warn!(%err, class = class_id, "cannot check a room's owner");
                    continue;
                }
            };
            let empty =
                self.relays.lock().unwrap_or_else(PoisonError::into_inner).get(&class_id).is_some_and(Relay::is_empty);
            if (current.as_deref() != Some(owner.to_string().as_str()) || empty)
                && let Some(mut relay) = self.relays.lock().unwrap_or_else(PoisonError::into_inner).remove(&class_id)
            {
                relay.kick_all(close::RECONNECT);
            }
        }
    }

    /// `<prefix>:room:<class>:<suffix>`: the claim key and the two channels of a room.
    fn room_key(&self, class_id: i64, suffix: &str) -> String {
        format!("{}{class_id}:{suffix}", self.room_prefix)
    }

    /// Lost contact with Redis: we may have missed events, so every relayed client reconnects.
    fn reset_relays(&self) {
        let mut relays = self.relays.lock().unwrap_or_else(PoisonError::into_inner);
        for (_, mut relay) in relays.drain() {
            relay.kick_all(close::RECONNECT);
        }
    }
}

impl RemoteFanout for Cluster {
    fn publish(&self, class_id: i64, audience: Audience, item: &Outgoing) {
        self.publish(self.room_key(class_id, OUT), &OutMessage { from: self.node, audience, item: item.clone() });
    }
}

const RELEASE_IF_MINE: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";
const RENEW_IF_MINE: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";

/// The last part of a room's claim key and of its two channels.
const OWNER: &str = "owner";
const IN: &str = "in";
const OUT: &str = "out";

/// The class and direction (`in` or `out`) of a channel under `room_prefix` (`<prefix>:room:`).
fn parse_channel<'a>(room_prefix: &str, channel: &'a str) -> Option<(i64, &'a str)> {
    let (class, direction) = channel.strip_prefix(room_prefix)?.split_once(':')?;
    Some((class.parse().ok()?, direction))
}

async fn publish_loop(
    mut conn: redis::aio::MultiplexedConnection,
    mut queued: mpsc::UnboundedReceiver<(String, String)>,
) {
    while let Some((channel, payload)) = queued.recv().await {
        if let Err(err) = conn.publish::<_, _, i64>(&channel, payload).await {
            tracing::warn!(%err, channel, "cannot publish to Redis");
        }
    }
}

async fn subscribe_loop(cluster: Weak<Cluster>, client: redis::Client, first: redis::aio::PubSub, pattern: String) {
    let mut pubsub = Some(first);
    loop {
        if let Some(mut subscribed) = pubsub.take() {
            let mut messages = subscribed.on_message();
            while let Some(message) = messages.next().await {
                let Some(cluster) = cluster.upgrade() else { return };
                let channel = message.get_channel_name().to_owned();
                let Ok(payload) = message.get_payload::<String>() else { continue };
                cluster.receive(&channel, &payload).await;
            }
        }
        let Some(alive) = cluster.upgrade() else { return };
        tracing::warn!(url = %lectern_core::store::redact_url(&alive.url), "lost the Redis subscription; reconnecting");
        alive.reset_relays();
        drop(alive);
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Ok(mut fresh) = client.get_async_pubsub().await
            && fresh.psubscribe(&pattern).await.is_ok()
        {
            pubsub = Some(fresh);
        }
    }
}

async fn keep_claims(cluster: Weak<Cluster>, period: Duration) {
    let mut every = tokio::time::interval(period);
    loop {
        every.tick().await;
        let Some(cluster) = cluster.upgrade() else { return };
        cluster.keep().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_of_other_prefixes_are_not_ours() {
        assert_eq!(parse_channel("lectern:room:", "lectern:room:12:in"), Some((12, IN)));
        assert_eq!(parse_channel("lectern:room:", "lectern:room:12:out"), Some((12, OUT)));
        assert_eq!(parse_channel("lectern:room:", "lectern2:room:12:in"), None);
        assert_eq!(parse_channel("test-a:room:", "test-b:room:12:in"), None);
        assert_eq!(parse_channel("lectern:room:", "lectern:room:x:in"), None);
    }
}
