//! The `connections[]` rows of a large report, written as JSON by two threads (`by_two`): a
//! second thread writes every other chunk of rows into a buffer while this one writes the
//! chunks between them straight out and copies the second thread's in, in order. The bytes are
//! those of writing every row here (`render::json`'s tests compare both). What is buffered is
//! bounded: at most two chunks of [`CHUNK`] rows wait for this thread, whatever the report's
//! size.

use super::ConnectionReport;
use serde::ser::{SerializeSeq, SerializeStruct};
use serde::{Serialize, Serializer};
use serde_json::ser::PrettyFormatter;
use std::cell::RefCell;
use std::sync::mpsc::{Receiver, SyncSender};

/// Below this many rows, one thread writes them all (a thread costs more than it saves).
pub(crate) const BY_TWO_FROM: usize = 1024;

/// Rows per chunk: about 100 KiB of JSON at 1.5 KiB a row.
pub(crate) const CHUNK: usize = 64;

thread_local! {
    /// While `by_two` runs: where the second thread's chunks arrive. Taken by the first rows
    /// written (the report's `connections`).
    static CHUNKS: RefCell<Option<Chunks>> = const { RefCell::new(None) };
    /// How many chunks of the second thread the last rows written here took (for tests).
    static TAKEN: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// How many chunks written by the second thread the last `by_two` on this thread took.
#[cfg(test)]
pub(crate) fn taken() -> usize {
    TAKEN.with(std::cell::Cell::get)
}

/// The second thread's chunks, as this thread takes them.
struct Chunks {
    texts: Receiver<Chunk>,
    chunk: usize,
}

/// Runs `write` (a report written pretty, from its start, on this thread) with the rows of
/// `rows` (the report's `connections`) written by two threads when there are at least `from`
/// of them, in chunks of `chunk` rows. One thread writes them all when no thread can be
/// started.
pub(crate) fn by_two<R>(
    rows: &[ConnectionReport],
    from: usize,
    chunk: usize,
    write: impl FnOnce() -> R,
) -> R {
    let chunk = chunk.max(1);
    TAKEN.with(|t| t.set(0));
    if rows.len() < from.max(1) {
        return write();
    }
    std::thread::scope(|scope| {
        // One chunk waits in the channel, one is being written: the bound on what is held.
        let (send, texts) = std::sync::mpsc::sync_channel(1);
        let second = std::thread::Builder::new()
            .name("json rows".to_string())
            .spawn_scoped(scope, move || write_every_other(rows, chunk, &send));
        if second.is_err() {
            return write();
        }
        CHUNKS.with(|c| *c.borrow_mut() = Some(Chunks { texts, chunk }));
        // Unused (the rows were not reached: an error before them, or a panic unwinding
        // through here) or done: dropping the receiver ends the second thread, even one
        // waiting to hand over a chunk (the scope waits for it), and leaves nothing for the
        // next report written on this thread.
        let _taken = TakenBack;
        write()
    })
}

/// Takes the second thread's chunks back from `CHUNKS` when dropped.
struct TakenBack;

impl Drop for TakenBack {
    fn drop(&mut self) {
        CHUNKS.with(|c| c.borrow_mut().take());
    }
}

/// The second thread: chunks 0, 2, 4... of `rows`, each as the text the report has between
/// its first row's `{` and its last row's `}`, handed over in order until this thread's
/// receiver is gone.
fn write_every_other(rows: &[ConnectionReport], chunk: usize, send: &SyncSender<Chunk>) {
    // Shared values are written once on this thread too (`report::shared`).
    super::shared::written_once(|| {
        for rows in rows.chunks(chunk).step_by(2) {
            let Some(text) = chunk_text(rows) else {
                return;
            };
            if send.send(text).is_err() {
                return;
            }
        }
    })
}

/// Rows as the report has them, at depth 2 (the report, `connections`): written inside an
/// object of one field `connections`, whose opening and closing lines are then cut off.
fn chunk_text(rows: &[ConnectionReport]) -> Option<Chunk> {
    #[derive(Serialize)]
    struct Wrap<'a> {
        connections: &'a [ConnectionReport],
    }
    const HEAD: &str = "{\n  \"connections\": [\n    ";
    const TAIL: &str = "\n  ]\n}";
    let mut out = Vec::with_capacity(rows.len() * 1600);
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        crate::text::JsonSafe(PrettyFormatter::new()),
    );
    Wrap { connections: rows }.serialize(&mut ser).ok()?;
    let mut text = String::from_utf8(out).ok()?;
    if !(text.starts_with(HEAD) && text.ends_with(TAIL)) {
        return None;
    }
    text.truncate(text.len() - TAIL.len());
    Some(Chunk {
        text,
        from: HEAD.len(),
    })
}

/// A chunk's text: `text[from..]` (the head cut off without copying the rest).
struct Chunk {
    text: String,
    from: usize,
}

/// `serialize_with` of the report's `connections`: inside `by_two`, every other chunk is the
/// second thread's text; anywhere else (or when that thread stopped), each row written here.
pub(crate) fn serialize<S: Serializer>(
    rows: &[ConnectionReport],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let Some(chunks) = CHUNKS.with(|c| c.borrow_mut().take()) else {
        return serializer.collect_seq(rows);
    };
    let mut seq = serializer.serialize_seq(Some(rows.len()))?;
    let mut second_stopped = false;
    for (n, rows) in rows.chunks(chunks.chunk).enumerate() {
        if n % 2 == 0 && !second_stopped {
            match chunks.texts.recv() {
                // The chunk's rows as one element: the separators between them are inside
                // its text, the same as the pretty writer puts between elements.
                Ok(text) => {
                    seq.serialize_element(&Verbatim(&text.text[text.from..]))?;
                    TAKEN.with(|t| t.set(t.get() + 1));
                    continue;
                }
                Err(_) => second_stopped = true,
            }
        }
        for row in rows {
            seq.serialize_element(row)?;
        }
    }
    seq.end()
}

/// Text written as it is (serde_json's raw value, without parsing it again: it was written by
/// serde_json on the second thread).
struct Verbatim<'a>(&'a str);

/// How serde_json recognizes a raw value (`serde_json::value::RawValue`'s own `Serialize`
/// uses this name; with another, the text would be written as an object and the tests
/// comparing both ways fail).
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

impl Serialize for Verbatim<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut raw = serializer.serialize_struct(RAW_VALUE_TOKEN, 1)?;
        raw.serialize_field(RAW_VALUE_TOKEN, self.0)?;
        raw.end()
    }
}
