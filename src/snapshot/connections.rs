//! A snapshot's sockets: the [`Connection`]s, and side tables, by a connection's index, of what
//! only a few have: the threads blocked on them (sockets that may be stuck) and the options
//! read of the stuck ones (`collect::probe`). It reads as a slice of connections; in a snapshot
//! file it is the array it always was, each connection with its `blocked_threads`, `options`
//! and `options_unreadable` (written and read here, one connection at a time).

use super::{
    BlockedThread, Connection, Endpoint, KernelTimer, Owner, SocketOptions, TcpInfo, TcpState,
    Unreadable,
};
use serde::de::{SeqAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// The sockets of a snapshot, with their side tables.
#[derive(Debug, Clone, Default)]
pub struct Connections {
    list: Vec<Connection>,
    /// Shared with the report's connections (`connections[]` lists them), not copied.
    blocked: BTreeMap<u32, Arc<Vec<BlockedThread>>>,
    /// By connection, the index in `distinct` of what was read of its options: the stuck
    /// sockets of a leak were mostly set up alike, and 10,000 of them hold a few values.
    probed: BTreeMap<u32, u32>,
    distinct: Vec<OptionsRead>,
    interned: HashMap<OptionsRead, u32>,
}

/// What `collect::probe` read of one socket's options.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct OptionsRead {
    /// The options its holder set.
    pub options: Option<SocketOptions>,
    /// Why `options` could not be read.
    pub unreadable: Option<Unreadable>,
}

impl Connections {
    /// The threads seen blocked on connection `index`.
    pub fn blocked(&self, index: usize) -> &[BlockedThread] {
        key(index)
            .and_then(|k| self.blocked.get(&k))
            .map_or(&[], |t| t.as_slice())
    }

    /// Connections with blocked threads, by index, ascending.
    pub fn all_blocked(&self) -> impl Iterator<Item = (usize, &Arc<Vec<BlockedThread>>)> {
        self.blocked.iter().map(|(&i, t)| (i as usize, t))
    }

    pub fn add_blocked(&mut self, index: usize, thread: BlockedThread) {
        if let Some(k) = key(index).filter(|_| index < self.list.len()) {
            Arc::make_mut(self.blocked.entry(k).or_default()).push(thread);
        }
    }

    /// What was read of connection `index`'s options, if it was tried.
    pub fn probed(&self, index: usize) -> Option<&OptionsRead> {
        key(index)
            .and_then(|k| self.probed.get(&k))
            .and_then(|&at| self.distinct.get(at as usize))
    }

    pub fn set_probed(&mut self, index: usize, probed: OptionsRead) {
        let Some(k) = key(index).filter(|_| index < self.list.len()) else {
            return;
        };
        let at = match self.interned.get(&probed) {
            Some(&at) => at,
            None => {
                let Ok(at) = u32::try_from(self.distinct.len()) else {
                    return;
                };
                self.distinct.push(probed.clone());
                self.interned.insert(probed, at);
                at
            }
        };
        self.probed.insert(k, at);
    }

    pub fn push(&mut self, connection: Connection) {
        self.list.push(connection);
    }

    /// Keeps the connections `keep` says, with their side tables.
    pub fn retain(&mut self, mut keep: impl FnMut(&Connection) -> bool) {
        let kept: Vec<bool> = self.list.iter().map(&mut keep).collect();
        let mut new_index = Vec::with_capacity(kept.len());
        let mut n = 0u32;
        for &k in &kept {
            new_index.push(n);
            n += u32::from(k);
        }
        let mut at = 0;
        self.list.retain(|_| {
            at += 1;
            kept[at - 1]
        });
        let remap = |i: &u32| kept.get(*i as usize).copied().unwrap_or(false);
        self.blocked = std::mem::take(&mut self.blocked)
            .into_iter()
            .filter(|(i, _)| remap(i))
            .map(|(i, t)| (new_index[i as usize], t))
            .collect();
        self.probed = std::mem::take(&mut self.probed)
            .into_iter()
            .filter(|(i, _)| remap(i))
            .map(|(i, p)| (new_index[i as usize], p))
            .collect();
    }

    pub fn shrink_to_fit(&mut self) {
        self.list.shrink_to_fit();
    }
}

/// A side table's key: indices beyond 32 bits (4 billion sockets) are not kept.
fn key(index: usize) -> Option<u32> {
    u32::try_from(index).ok()
}

impl From<Vec<Connection>> for Connections {
    fn from(list: Vec<Connection>) -> Connections {
        Connections {
            list,
            ..Connections::default()
        }
    }
}

impl FromIterator<Connection> for Connections {
    fn from_iter<I: IntoIterator<Item = Connection>>(iter: I) -> Connections {
        Connections::from(iter.into_iter().collect::<Vec<_>>())
    }
}

impl std::ops::Deref for Connections {
    type Target = [Connection];
    fn deref(&self) -> &[Connection] {
        &self.list
    }
}

impl std::ops::DerefMut for Connections {
    fn deref_mut(&mut self) -> &mut [Connection] {
        &mut self.list
    }
}

impl<'a> IntoIterator for &'a Connections {
    type Item = &'a Connection;
    type IntoIter = std::slice::Iter<'a, Connection>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

/// One connection as a snapshot file has it.
struct ConnectionOut<'a> {
    c: &'a Connection,
    blocked: &'a [BlockedThread],
    probed: Option<&'a OptionsRead>,
}

impl Serialize for ConnectionOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let c = self.c;
        let options = self.probed.and_then(|p| p.options.as_ref());
        let unreadable = self.probed.and_then(|p| p.unreadable.as_ref());
        let mut s = serializer.serialize_struct("Connection", 15)?;
        s.serialize_field("state", &c.state)?;
        s.serialize_field("local", &c.local())?;
        s.serialize_field("remote", &c.remote())?;
        s.serialize_field("inode", &c.inode)?;
        s.serialize_field("uid", &c.uid)?;
        s.serialize_field("cookie", &c.cookie())?;
        s.serialize_field("recv_q", &c.recv_q)?;
        s.serialize_field("send_q", &c.send_q)?;
        s.serialize_field("tcp_info", &c.tcp_info())?;
        s.serialize_field("owners", c.owners())?;
        s.serialize_field("blocked_threads", self.blocked)?;
        s.serialize_field("netns", &c.netns())?;
        optional(&mut s, "timer", c.timer().as_ref())?;
        optional(&mut s, "options", options)?;
        optional(&mut s, "options_unreadable", unreadable)?;
        s.end()
    }
}

fn optional<S: SerializeStruct, T: Serialize>(
    s: &mut S,
    name: &'static str,
    value: Option<&T>,
) -> Result<(), S::Error> {
    match value {
        Some(v) => s.serialize_field(name, v),
        None => s.skip_field(name),
    }
}

impl Serialize for Connections {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.list.len()))?;
        for (index, c) in self.list.iter().enumerate() {
            seq.serialize_element(&ConnectionOut {
                c,
                blocked: self.blocked(index),
                probed: self.probed(index),
            })?;
        }
        seq.end()
    }
}

/// One connection as a snapshot file has it (files from every version).
#[derive(Deserialize)]
struct ConnectionIn {
    state: TcpState,
    local: Endpoint,
    remote: Endpoint,
    inode: u32,
    uid: u32,
    cookie: Option<u64>,
    recv_q: u32,
    send_q: u32,
    tcp_info: Option<TcpInfo>,
    #[serde(default)]
    owners: Vec<Owner>,
    #[serde(default)]
    blocked_threads: Vec<BlockedThread>,
    #[serde(default)]
    netns: Option<u32>,
    #[serde(default)]
    timer: Option<KernelTimer>,
    #[serde(default)]
    options: Option<SocketOptions>,
    #[serde(default)]
    options_unreadable: Option<Unreadable>,
}

impl<'de> Deserialize<'de> for Connections {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Connections, D::Error> {
        deserializer.deserialize_seq(ConnectionsVisitor)
    }
}

struct ConnectionsVisitor;

impl<'de> Visitor<'de> for ConnectionsVisitor {
    type Value = Connections;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of connections")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Connections, A::Error> {
        let mut all = Connections::default();
        while let Some(one) = seq.next_element::<ConnectionIn>()? {
            let index = all.list.len();
            let mut c = Connection::new(one.state, one.local, one.remote);
            c.inode = one.inode;
            c.uid = one.uid;
            c.set_cookie(one.cookie);
            c.recv_q = one.recv_q;
            c.send_q = one.send_q;
            c.set_tcp_info(one.tcp_info);
            c.set_owners(one.owners);
            c.set_netns(one.netns.map(u64::from))
                .map_err(serde::de::Error::custom)?;
            c.set_timer(one.timer);
            all.list.push(c);
            for thread in one.blocked_threads {
                all.add_blocked(index, thread);
            }
            if one.options.is_some() || one.options_unreadable.is_some() {
                all.set_probed(
                    index,
                    OptionsRead {
                        options: one.options,
                        unreadable: one.options_unreadable,
                    },
                );
            }
        }
        all.list.shrink_to_fit();
        Ok(all)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Owner, WaitTimeout};

    fn thread(pid: u32, fd: u32) -> BlockedThread {
        BlockedThread::example(pid, fd)
    }

    fn three() -> Connections {
        let mut all: Connections = (0..3)
            .map(|i| {
                let mut c = Connection::example();
                c.inode = 100 + i;
                c.push_owner(Owner { pid: 10 + i, fd: 3 });
                c
            })
            .collect();
        all.add_blocked(1, thread(11, 3));
        all.add_blocked(2, thread(12, 3));
        all.set_probed(
            2,
            OptionsRead {
                options: None,
                unreadable: Some(Unreadable::Gone),
            },
        );
        all
    }

    #[test]
    fn side_tables_follow_their_connections_through_retain() {
        let mut all = three();
        all.retain(|c| c.inode != 101);
        assert_eq!(all.iter().map(|c| c.inode).collect::<Vec<_>>(), [100, 102]);
        assert!(all.blocked(0).is_empty());
        assert_eq!(all.blocked(1), &[thread(12, 3)]);
        assert_eq!(all.probed(1).unwrap().unreadable, Some(Unreadable::Gone));
        assert_eq!(all.blocked(1)[0].timeout(), WaitTimeout::Forever);
        assert!(all.probed(0).is_none() && all.blocked(7).is_empty());
    }

    #[test]
    fn a_snapshot_file_keeps_each_connection_whole() {
        let all = three();
        let text = serde_json::to_string(&all).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value[1]["blocked_threads"][0]["pid"], 11);
        assert_eq!(value[2]["options_unreadable"]["reason"], "gone");
        assert!(value[0].get("options").is_none() && value[0]["netns"].is_null());
        let back: Connections = serde_json::from_str(&text).unwrap();
        assert_eq!(back.list, all.list);
        assert_eq!((back.blocked, back.probed), (all.blocked, all.probed));
    }

    #[test]
    fn a_namespace_wider_than_the_kernels_is_an_error_not_a_wrong_number() {
        let mut value = serde_json::to_value(three()).unwrap();
        value[0]["netns"] = serde_json::json!(1u64 << 40);
        assert!(serde_json::from_value::<Connections>(value).is_err());
    }
}
