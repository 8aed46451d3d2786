//! Combining concurrent calls of one kind into one statement.
//!
//! Under load, many executors lease, heartbeat and complete at once, and
//! each statement's fixed cost (a round trip, a commit, a WAL flush, waking
//! a server process) is most of its price. A [`Combiner`] lets callers queue
//! their items; at most `runners` tasks take the queued items in batches of
//! at most `max_batch` and run each batch as one statement. When the
//! catalog is idle a caller finds a free runner and its item runs alone, as
//! soon as it arrives: batches form only while statements are already
//! running, so combining never waits on a timer.
//!
//! Each batch runs in a task of its own, so a caller that goes away (a
//! cancelled RPC) does not cancel the statement that carries other callers'
//! items. Its answer is dropped, as a reply lost on the network would be;
//! a caller that goes away before its batch starts is left out of it.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;

use crate::db::Sql;
use crate::error::{Error, Result};

/// Items waiting for a runner, and how many runners there are.
struct Queue<I, O> {
    waiting: VecDeque<(I, oneshot::Sender<Result<O>>)>,
    running: usize,
}

/// Combines concurrent calls; see the module docs.
pub(super) struct Combiner<I, O> {
    queue: Arc<Mutex<Queue<I, O>>>,
    runners: usize,
    max_batch: usize,
}

impl<I, O> std::fmt::Debug for Combiner<I, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Combiner")
            .field("runners", &self.runners)
            .field("max_batch", &self.max_batch)
            .finish_non_exhaustive()
    }
}

impl<I: Send + 'static, O: Send + 'static> Combiner<I, O> {
    /// At most `runners` batches at a time, each of at most `max_batch` items.
    pub(super) fn new(runners: usize, max_batch: usize) -> Self {
        Self {
            queue: Arc::new(Mutex::new(Queue {
                waiting: VecDeque::new(),
                running: 0,
            })),
            runners: runners.max(1),
            max_batch: max_batch.max(1),
        }
    }

    /// Runs `item` in a batch and returns its result. `run` gets a batch in
    /// queue order and must return one result per item, in the same order.
    pub(super) async fn call<F, Fut>(&self, item: I, run: F) -> Result<O>
    where
        F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<Result<O>>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut queue = lock(&self.queue);
            queue.waiting.push_back((item, tx));
            let start = queue.running < self.runners;
            if start {
                queue.running += 1;
            }
            start
        };
        if start {
            let runner = Runner {
                queue: self.queue.clone(),
                max_batch: self.max_batch,
                done: false,
            };
            tokio::spawn(runner.drain(run));
        }
        rx.await.unwrap_or_else(|_| {
            Err(Error::Internal(
                "a combined statement ended without an answer".into(),
            ))
        })
    }
}

/// One running batch task. Leaving (even by a panic) frees its place, so
/// the number of runners never leaks.
struct Runner<I, O> {
    queue: Arc<Mutex<Queue<I, O>>>,
    max_batch: usize,
    /// Whether the runner has already given its place back.
    done: bool,
}

impl<I, O> Runner<I, O> {
    /// Runs batches until nothing waits. The queue's lock is held while the
    /// runner decides to stop, so an item queued at that moment either is
    /// taken by it or starts a runner of its own.
    async fn drain<F, Fut>(mut self, run: F)
    where
        F: Fn(Vec<I>) -> Fut,
        Fut: Future<Output = Vec<Result<O>>>,
    {
        loop {
            let batch: Vec<_> = {
                let mut queue = lock(&self.queue);
                if queue.waiting.is_empty() {
                    queue.running -= 1;
                    self.done = true;
                    return;
                }
                let n = queue.waiting.len().min(self.max_batch);
                queue.waiting.drain(..n).collect()
            };
            // A caller that went away while it waited is not run: a lease
            // nobody receives would hold its job until the lease expires.
            let batch: Vec<_> = batch.into_iter().filter(|(_, r)| !r.is_closed()).collect();
            if batch.is_empty() {
                continue;
            }
            let (items, replies): (Vec<I>, Vec<_>) = batch.into_iter().unzip();
            let results = run(items).await;
            debug_assert_eq!(results.len(), replies.len());
            for (reply, result) in replies.into_iter().zip(results) {
                // The caller may be gone; its answer is dropped.
                let _ = reply.send(result);
            }
        }
    }
}

impl<I, O> Drop for Runner<I, O> {
    fn drop(&mut self) {
        if !self.done {
            lock(&self.queue).running -= 1;
        }
    }
}

/// Runs `items` in one statement when no two share a key, and one by one
/// when some do or when that statement fails, so each gets its own answer.
/// `run` returns what its statement found, by key; an item whose key it
/// did not find gets `None`.
pub(super) async fn together_or_alone<'a, T, O, F, Fut>(
    items: &'a [T],
    key: impl Fn(&T) -> &str,
    run: F,
) -> Vec<Result<Option<O>>>
where
    F: Fn(Vec<&'a T>) -> Fut,
    Fut: Future<Output = Result<HashMap<String, O>>>,
{
    let mut keys: Vec<&str> = items.iter().map(&key).collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.len() == items.len() {
        match run(items.iter().collect()).await {
            Ok(mut found) => return items.iter().map(|i| Ok(found.remove(key(i)))).collect(),
            Err(e) if items.len() == 1 => return vec![Err(e)],
            Err(_) => {}
        }
    }
    let mut results = Vec::with_capacity(items.len());
    for item in items {
        results.push(
            run(vec![item])
                .await
                .map(|mut found| found.remove(key(item))),
        );
    }
    results
}

/// How many rows a statement for `n` items lists: `n` rounded up to a power
/// of two, the rest rows that match nothing. A statement's text then takes
/// one of a few shapes, so each connection prepares and plans few of them.
pub(super) fn padded(n: usize) -> usize {
    n.next_power_of_two()
}

/// Appends the rows of a `VALUES` list: one for each of `items`, whose
/// values `row` writes (given the item's place, from 0), then the rows that
/// pad the list to [`padded`]`(items.len())`, whose values `pad` writes and
/// which must match nothing.
pub(super) fn push_rows<T>(
    sql: &mut Sql,
    items: &[T],
    mut row: impl FnMut(&mut Sql, usize, &T),
    pad: impl Fn(&mut Sql),
) {
    for (n, item) in items.iter().enumerate() {
        sql.push(if n == 0 { "(" } else { ", (" });
        row(sql, n, item);
        sql.push(")");
    }
    for _ in items.len()..padded(items.len()) {
        sql.push(", (");
        pad(sql);
        sql.push(")");
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::sync::{Notify, mpsc};

    use super::*;

    type Answer = tokio::task::JoinHandle<Result<u32>>;
    type Batch = std::pin::Pin<Box<dyn Future<Output = Vec<Result<u32>>> + Send>>;

    /// Calls `combiner` with `item` in a task of its own.
    fn spawn_call<F, Fut>(combiner: &Arc<Combiner<u32, u32>>, run: &F, item: u32) -> Answer
    where
        F: Fn(Vec<u32>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Vec<Result<u32>>> + Send + 'static,
    {
        let (combiner, run) = (combiner.clone(), run.clone());
        tokio::spawn(async move { combiner.call(item, run).await })
    }

    /// A batch runner that reports each batch it gets, holds the batch
    /// `[0]` until released, and answers ten times each item.
    fn gated() -> (
        impl Fn(Vec<u32>) -> Batch + Clone + Send + Sync + 'static,
        Gate,
    ) {
        let (batches_tx, batches) = mpsc::unbounded_channel::<Vec<u32>>();
        let release = Arc::new(Notify::new());
        let run = {
            let release = release.clone();
            move |items: Vec<u32>| {
                let batches_tx = batches_tx.clone();
                let release = release.clone();
                Box::pin(async move {
                    batches_tx.send(items.clone()).unwrap();
                    if items == [0] {
                        release.notified().await;
                    }
                    items.iter().map(|i| Ok(i * 10)).collect()
                })
                    as std::pin::Pin<Box<dyn Future<Output = Vec<Result<u32>>> + Send>>
            }
        };
        (run, Gate { batches, release })
    }

    /// What a [`gated`] runner reports, and its release.
    struct Gate {
        batches: mpsc::UnboundedReceiver<Vec<u32>>,
        release: Arc<Notify>,
    }

    /// Items queued while a batch runs go together into the next batch, in
    /// the order they came, and each caller gets its own item's result.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn items_that_wait_for_a_running_batch_share_the_next_one() {
        let combiner = Arc::new(Combiner::<u32, u32>::new(1, 64));
        let (run, mut gate) = gated();
        let first = spawn_call(&combiner, &run, 0);
        assert_eq!(
            gate.batches.recv().await.unwrap(),
            vec![0],
            "the first item runs alone"
        );
        let mut later = Vec::new();
        for i in 1..=5 {
            later.push(spawn_call(&combiner, &run, i));
            // Each caller is queued before the next one starts.
            while lock(&combiner.queue).waiting.len() < i as usize {
                tokio::task::yield_now().await;
            }
        }
        gate.release.notify_one();
        assert_eq!(first.await.unwrap().unwrap(), 0);
        assert_eq!(gate.batches.recv().await.unwrap(), vec![1, 2, 3, 4, 5]);
        for (i, t) in later.into_iter().enumerate() {
            assert_eq!(t.await.unwrap().unwrap(), (i as u32 + 1) * 10);
        }
        assert_eq!(lock(&combiner.queue).running, 0, "the runner left");
    }

    /// A batch is at most `max_batch` items; the rest run in the next one.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn batches_are_bounded() {
        let combiner = Arc::new(Combiner::<u32, u32>::new(1, 2));
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let run = {
            let sizes = sizes.clone();
            move |items: Vec<u32>| {
                lock(&sizes).push(items.len());
                async move { items.into_iter().map(Ok).collect() }
            }
        };
        let calls: Vec<_> = (0..20).map(|i| spawn_call(&combiner, &run, i)).collect();
        for (i, t) in calls.into_iter().enumerate() {
            assert_eq!(t.await.unwrap().unwrap(), i as u32);
        }
        let sizes = lock(&sizes).clone();
        assert!(sizes.iter().all(|&n| (1..=2).contains(&n)), "{sizes:?}");
        assert_eq!(sizes.iter().sum::<usize>(), 20);
    }

    /// A caller that goes away while it waits is left out of the next batch.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_caller_gone_before_its_batch_is_left_out() {
        let combiner = Arc::new(Combiner::<u32, u32>::new(1, 64));
        let (run, mut gate) = gated();
        let first = spawn_call(&combiner, &run, 0);
        assert_eq!(gate.batches.recv().await.unwrap(), vec![0]);
        let gone = spawn_call(&combiner, &run, 1);
        while lock(&combiner.queue).waiting.is_empty() {
            tokio::task::yield_now().await;
        }
        gone.abort();
        let _ = gone.await;
        let kept = spawn_call(&combiner, &run, 2);
        while lock(&combiner.queue).waiting.len() < 2 {
            tokio::task::yield_now().await;
        }
        gate.release.notify_one();
        assert_eq!(first.await.unwrap().unwrap(), 0);
        assert_eq!(
            gate.batches.recv().await.unwrap(),
            vec![2],
            "the gone caller is left out"
        );
        assert_eq!(kept.await.unwrap().unwrap(), 20);
    }

    /// A caller that goes away does not stop the batch that carries others.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_cancelled_caller_leaves_the_others_their_answers() {
        let combiner = Arc::new(Combiner::<u32, u32>::new(1, 64));
        let release = Arc::new(Notify::new());
        let started = Arc::new(Notify::new());
        let run = {
            let (release, started) = (release.clone(), started.clone());
            move |items: Vec<u32>| {
                let (release, started) = (release.clone(), started.clone());
                async move {
                    started.notify_one();
                    release.notified().await;
                    items.into_iter().map(Ok).collect()
                }
            }
        };
        let cancelled = spawn_call(&combiner, &run, 1);
        started.notified().await;
        cancelled.abort();
        let kept = spawn_call(&combiner, &run, 2);
        while lock(&combiner.queue).waiting.is_empty() {
            tokio::task::yield_now().await;
        }
        release.notify_one();
        release.notify_one();
        let answer = tokio::time::timeout(Duration::from_secs(30), kept).await;
        assert_eq!(answer.unwrap().unwrap().unwrap(), 2);
    }
}
