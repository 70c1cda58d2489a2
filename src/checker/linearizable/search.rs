//! The search for a linearization of one key's operations: Wing and Gong's depth-first search
//! with Lowe's memoization, iterative (an explicit stack, so no history is too deep for it),
//! with the shortcuts below, and within a time and memory budget.
//!
//! A configuration is the set of definite operations placed so far, the uncertain operations
//! applied so far, and the register's value. From one, the search may place any operation that
//! no unplaced operation must precede (no unplaced operation completed before its lower bound,
//! its session predecessor placed) and that the model accepts in that state.
//!
//! - Reads first, without branching: a read whose value the register holds, and which may be
//!   placed, is placed at once. A read changes nothing, and everything that may follow it may
//!   follow it here, so if any linearization exists from this configuration, one exists that
//!   places the read now. This removes the choice of when to place concurrent reads, the usual
//!   source of blow-up on register histories.
//! - Only branching configurations are memoized (and one every few placed operations along a
//!   path, so that revisiting a chain of single-candidate configurations stops soon): at low
//!   concurrency most configurations have one way on, and storing them would be most of the
//!   work.
//! - Compact memo keys: definite operations are sorted by lower bound, so the placed set is
//!   "every operation before position `p`" plus a window of placed ones after `p` (bounded by
//!   the operations concurrent with the one at `p`). The memo key is `p`, the window's bits,
//!   the applied uncertain operations that still matter and the value: a few words, where a
//!   bitset over the whole history would make every memo operation cost O(n).
//! - Quiescent points cost nothing to cross: where no operation is open, the window is empty
//!   and the key is just (position, value, applied uncertain operations), so the memo holds,
//!   at every such cut, the set of values (and uncertain-operation sets) the prefix can end in
//!   that were already refuted; the search never explores an earlier segment twice for a state
//!   it has seen. That is the cut-and-carry-the-set decomposition, done by the memo.
//! - Uncertain operations are never required: the search succeeds once every definite
//!   operation is placed. An uncertain write or CAS whose value no unplaced operation observes
//!   any more (no read of it, no CAS expecting it) is dead: applying it would leave the
//!   register in a value only a write can leave, which never helps, so it is not tried, and
//!   whether it was applied is dropped from the memo key. This is what keeps uncertain
//!   operations, which stay open forever, from growing the key (and the set carried across
//!   every cut) without bound: only the ones whose value is still to be observed are in it.
//!
//! The memo is an optimization only: when the memory budget is reached, entries behind the
//! current position are evicted (the search may then redo work, never miss a linearization);
//! if that frees less than half of it, or leaves more than three quarters of the budget used,
//! the search gives up with `Unknown`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use rustc_hash::{FxHashMap, FxHashSet};

use super::history::{Definite, KeyHistory, NONE, Uncertain};
use super::model::{Action, NULL, Value};

/// What the search may spend.
pub struct Budget<'a> {
    pub deadline: Instant,
    /// Bytes the memo tables of every key searched at once may hold together.
    pub memory_limit: u64,
    pub memory_used: &'a AtomicU64,
    /// Set when another key was found not linearizable: stop early.
    pub stop: &'a AtomicBool,
}

/// Why a search gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GaveUp {
    Time,
    Memory,
    Cancelled,
}

/// One placed operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A definite operation, by position in `KeyHistory::defs`.
    Def(u32),
    /// An uncertain one that took effect, by position in `KeyHistory::infos`.
    Info(u32),
}

/// An operation of a partial linearization, by `KeyHistory::meta` index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    pub meta: u32,
    /// Of unknown outcome, taken to have applied.
    pub uncertain: bool,
}

/// Why a key has no linearization: the longest partial linearization the search found and what
/// could not follow it.
#[derive(Debug, Clone)]
pub struct Counterexample {
    /// Definite operations it placed.
    pub placed: u32,
    /// Its last steps, in order.
    pub tail: Vec<Placed>,
    /// The register's value after it.
    pub state: Value,
    /// Definite operations (`KeyHistory::meta` indices) that were next in real time: each
    /// either cannot take effect on `state` or led only to dead ends.
    pub stuck: Vec<u32>,
    /// The stuck operations observe a value that no operation invoked before they completed
    /// writes (found before any search).
    pub unwritten: bool,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Linearizable,
    NotLinearizable(Counterexample),
    GaveUp {
        why: GaveUp,
        /// The most definite operations any configuration had placed.
        deepest: u32,
    },
}

/// What the search did.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Stats {
    /// Configurations entered (after their forced reads).
    pub configurations: u64,
    /// Memo entries stored.
    pub memo_entries: u64,
    /// Times the memo was thinned to stay within the memory budget.
    pub evictions: u32,
}

const TAIL: usize = 12;
const MEMO_EVERY: u32 = 8;
const STUCK_MAX: usize = 12;

struct Frame {
    /// Definite operations placed in this configuration.
    count: u32,
    /// Path length before the step that entered this configuration.
    base: u32,
    cand_lo: u32,
    cand_hi: u32,
    next: u32,
    state: Value,
}

enum Entered {
    Done,
    Dead,
    Frame,
}

/// Per-entry memo cost beyond its words: the boxed slice's pointer and length, the hash table's
/// slot and control byte at its load factor, the allocator's rounding.
const ENTRY_OVERHEAD: u64 = 48;

pub struct Search {
    n: u32,
    meta: Vec<u32>,
    info_meta: Vec<u32>,
    final_state: Value,
    lower: Vec<u64>,
    ret: Vec<u64>,
    action: Vec<Action>,
    after: Vec<u32>,
    info_call: Vec<u64>,
    info_action: Vec<Action>,
    /// The first position from which an uncertain operation may be applied.
    info_from: Vec<u32>,
    /// The position at which it stops mattering (every observer of its value placed).
    info_dead: Vec<u32>,
    /// Per 64 positions: the uncertain operations that may matter there.
    blocks: Vec<Vec<u32>>,

    placed: Vec<u64>,
    applied: Vec<u64>,
    p: u32,
    hi: u32,
    count: u32,
    path: Vec<Step>,
    frames: Vec<Frame>,
    cands: Vec<Step>,
    memo: FxHashSet<Box<[u64]>>,
    memo_bytes: u64,
    key: Vec<u64>,
    deepest: u32,
    best: Option<Counterexample>,
    pub stats: Stats,
}

fn bit(words: &[u64], i: u32) -> bool {
    words[(i / 64) as usize] >> (i % 64) & 1 == 1
}

fn set(words: &mut [u64], i: u32) {
    words[(i / 64) as usize] |= 1 << (i % 64);
}

fn clear(words: &mut [u64], i: u32) {
    words[(i / 64) as usize] &= !(1 << (i % 64));
}

impl Search {
    pub fn new(kh: &KeyHistory) -> Self {
        let n = kh.defs.len() as u32;
        let lower: Vec<u64> = kh.defs.iter().map(|d| d.lower).collect();
        let ret: Vec<u64> = kh.defs.iter().map(|d| d.ret).collect();
        let action: Vec<Action> = kh.defs.iter().map(|d| d.action).collect();
        let after: Vec<u32> = kh.defs.iter().map(|d| d.after).collect();
        let info_call: Vec<u64> = kh.infos.iter().map(|u| u.call).collect();
        let info_action: Vec<Action> = kh.infos.iter().map(|u| u.action).collect();

        // An uncertain operation can first be applied where the prefix maximum of completion
        // ordinals passes its invocation: before that, some unplaced definite operation at or
        // before `p` completed before it was invoked.
        let mut prefix_max = Vec::with_capacity(n as usize);
        let mut m = 0u64;
        for &r in &ret {
            m = m.max(r);
            prefix_max.push(m);
        }
        let info_from: Vec<u32> = info_call
            .iter()
            .map(|&c| prefix_max.partition_point(|&m| m <= c) as u32)
            .collect();

        // It stops mattering once every definite observer of its value is placed, and every
        // uncertain CAS expecting its value has stopped mattering.
        let mut last_observer: FxHashMap<Value, u32> = FxHashMap::default();
        for (pos, &a) in action.iter().enumerate() {
            if let Some(v) = a.observes() {
                let e = last_observer.entry(v).or_insert(0);
                *e = (*e).max(pos as u32 + 1);
            }
        }
        let mut info_dead: Vec<u32> = info_action
            .iter()
            .map(|a| {
                a.writes()
                    .and_then(|v| last_observer.get(&v).copied())
                    .unwrap_or(0)
            })
            .collect();
        let mut writers: FxHashMap<Value, Vec<u32>> = FxHashMap::default();
        for (i, a) in info_action.iter().enumerate() {
            if let Some(v) = a.writes() {
                writers.entry(v).or_default().push(i as u32);
            }
        }
        let cas: Vec<(u32, Value)> = info_action
            .iter()
            .enumerate()
            .filter_map(|(i, a)| match a {
                Action::Cas { expect, .. } => Some((i as u32, *expect)),
                _ => None,
            })
            .collect();
        let mut converged = cas.is_empty();
        for _ in 0..64 {
            if converged {
                break;
            }
            converged = true;
            for &(j, expect) in &cas {
                for &i in writers.get(&expect).map(Vec::as_slice).unwrap_or(&[]) {
                    if info_dead[j as usize] > info_dead[i as usize] {
                        info_dead[i as usize] = info_dead[j as usize];
                        converged = false;
                    }
                }
            }
        }
        if !converged {
            // Long chains of uncertain CAS: keep every writer their expectations name alive.
            for &(_, expect) in &cas {
                for &i in writers.get(&expect).map(Vec::as_slice).unwrap_or(&[]) {
                    info_dead[i as usize] = u32::MAX;
                }
            }
        }
        let nblocks = n as usize / 64 + 1;
        let mut blocks: Vec<Vec<u32>> = vec![Vec::new(); nblocks];
        for i in 0..info_call.len() {
            let (from, dead) = (info_from[i], info_dead[i].min(n + 1));
            if from >= dead {
                continue;
            }
            let last = ((dead - 1) as usize / 64).min(nblocks - 1);
            for block in &mut blocks[from as usize / 64..=last] {
                block.push(i as u32);
            }
        }
        let words = n as usize / 64 + 2;
        Self {
            n,
            meta: kh.defs.iter().map(|d| d.meta).collect(),
            info_meta: kh.infos.iter().map(|u| u.meta).collect(),
            final_state: NULL,
            lower,
            ret,
            action,
            after,
            info_call,
            info_action,
            info_from,
            info_dead,
            blocks,
            placed: vec![0; words],
            applied: vec![0; kh.infos.len() / 64 + 1],
            p: 0,
            hi: 0,
            count: 0,
            path: Vec::new(),
            frames: Vec::new(),
            cands: Vec::new(),
            memo: FxHashSet::default(),
            memo_bytes: 0,
            key: Vec::new(),
            deepest: 0,
            best: None,
            stats: Stats::default(),
        }
    }

    /// Bytes of this key's search structures besides the memo.
    pub fn fixed_bytes(&self) -> u64 {
        let n = self.n as u64;
        let infos = self.info_call.len() as u64;
        let block_entries: u64 = self.blocks.iter().map(|b| b.len() as u64 * 4 + 24).sum();
        // SoA arrays, plus the path, frames and candidate stacks at their deepest.
        n * (8 + 8 + 12 + 4 + 8 + 20 + 8) + infos * (8 + 12 + 8) + block_entries
    }

    fn place(&mut self, pos: u32) {
        set(&mut self.placed, pos);
        self.count += 1;
        if pos == self.p {
            while self.p < self.n && bit(&self.placed, self.p) {
                self.p += 1;
            }
        }
        self.hi = self.hi.max(pos + 1).max(self.p);
        self.path.push(Step::Def(pos));
    }

    fn unplace(&mut self, pos: u32) {
        clear(&mut self.placed, pos);
        self.count -= 1;
        if pos < self.p {
            self.p = pos;
        }
        if pos + 1 == self.hi {
            // The highest placed position in [p, pos), or p.
            let mut hi = self.p;
            let mut i = pos;
            while i > self.p {
                let w = self.placed[((i - 1) / 64) as usize];
                let word_start = (i - 1) / 64 * 64;
                let upto = i - word_start; // bits [word_start, i)
                let masked = if upto == 64 {
                    w
                } else {
                    w & ((1u64 << upto) - 1)
                };
                if masked != 0 {
                    hi = word_start + 64 - masked.leading_zeros();
                    break;
                }
                i = word_start;
            }
            self.hi = hi.max(self.p);
        }
    }

    fn undo_to(&mut self, base: u32) {
        while self.path.len() as u32 > base {
            match self.path.pop() {
                Some(Step::Def(pos)) => {
                    // `place` pushed it; undo without pushing.
                    self.unplace(pos);
                }
                Some(Step::Info(i)) => clear(&mut self.applied, i),
                None => break,
            }
        }
    }

    /// Applies a candidate from `state` (the model accepted it when it was listed).
    fn apply(&mut self, step: Step, state: Value) -> Value {
        match step {
            Step::Def(pos) => {
                self.place(pos);
                self.action[pos as usize].step(state).unwrap_or(state)
            }
            Step::Info(i) => {
                set(&mut self.applied, i);
                self.path.push(Step::Info(i));
                self.info_action[i as usize].step(state).unwrap_or(state)
            }
        }
    }

    /// Walks the definite operations that may be placed next, in position order, calling
    /// `visit(pos)` for each; stops where the lower bounds pass the earliest completion of an
    /// unplaced operation. `visit` may place the operation it is given (a forced read).
    /// Returns that earliest completion.
    fn scan(&mut self, mut visit: impl FnMut(&mut Self, u32) -> bool) -> u64 {
        let mut min_ret = u64::MAX;
        let mut pos = self.p;
        while pos < self.n {
            let i = pos as usize;
            if self.lower[i] > min_ret {
                break;
            }
            if !bit(&self.placed, pos) {
                let dep = self.after[i];
                let ready = dep == NONE || bit(&self.placed, dep);
                let placed_now = ready && visit(self, pos);
                if !placed_now {
                    min_ret = min_ret.min(self.ret[i]);
                }
            }
            pos += 1;
        }
        min_ret
    }

    /// Enters the configuration reached: places the reads it forces, then ends the search
    /// (everything placed), finds it already refuted, or pushes a frame with its candidates.
    fn enter(&mut self, state: Value, base: u32, budget: &Budget) -> Result<Entered, GaveUp> {
        // Forced reads, and the definite candidates.
        let cand_lo = self.cands.len() as u32;
        let min_ret = self.scan(|s, pos| {
            let a = s.action[pos as usize];
            match a {
                Action::Read(v) if v == state => {
                    s.place(pos);
                    true
                }
                Action::Read(_) => false,
                _ => {
                    if a.step(state).is_some() {
                        s.cands.push(Step::Def(pos));
                    }
                    false
                }
            }
        });
        self.stats.configurations += 1;
        self.deepest = self.deepest.max(self.count);
        if self.count == self.n {
            self.cands.truncate(cand_lo as usize);
            self.final_state = state;
            return Ok(Entered::Done);
        }
        // Uncertain candidates, after the definite ones: not applying them is tried first.
        let block = (self.p / 64) as usize;
        for k in 0..self.blocks[block].len() {
            let i = self.blocks[block][k];
            let iu = i as usize;
            if self.info_from[iu] <= self.p
                && self.p < self.info_dead[iu]
                && self.info_call[iu] < min_ret
                && !bit(&self.applied, i)
                && self.info_action[iu].step(state).is_some()
            {
                self.cands.push(Step::Info(i));
            }
        }
        let cand_hi = self.cands.len() as u32;
        if cand_lo == cand_hi {
            self.dead_end(state);
            return Ok(Entered::Dead);
        }
        // Memoize where the search branches, and at least every MEMO_EVERY placed operations
        // along a path: a configuration with one way on, reached again, is walked again, but
        // only as far as the next memoized one.
        let bucket = self.count / MEMO_EVERY;
        let crossed = self
            .frames
            .last()
            .is_none_or(|f| f.count / MEMO_EVERY != bucket);
        if (cand_hi - cand_lo >= 2 || crossed) && !self.remember(state, budget)? {
            self.cands.truncate(cand_lo as usize);
            return Ok(Entered::Dead);
        }
        self.frames.push(Frame {
            base,
            cand_lo,
            cand_hi,
            next: cand_lo,
            state,
            count: self.count,
        });
        Ok(Entered::Frame)
    }

    /// The memo key of the current configuration, into `self.key`.
    fn build_key(&mut self, state: Value) {
        self.key.clear();
        self.key.push((self.p as u64) << 32 | state as u64);
        self.key.push(0);
        // Window: placed bits in (p, hi).
        let from = self.p + 1;
        let mut window = 0u64;
        if self.hi > from {
            let len = self.hi - from;
            let words = len.div_ceil(64);
            for w in 0..words {
                let b = from + w * 64;
                let (wi, sh) = ((b / 64) as usize, b % 64);
                let mut word = self.placed[wi] >> sh;
                if sh != 0 && wi + 1 < self.placed.len() {
                    word |= self.placed[wi + 1] << (64 - sh);
                }
                let bits = (len - w * 64).min(64);
                if bits < 64 {
                    word &= (1u64 << bits) - 1;
                }
                self.key.push(word);
            }
            window = words as u64;
        }
        // Applied uncertain operations that still matter, as bits over this block's list.
        let block = &self.blocks[(self.p / 64) as usize];
        let mut info_words = 0u64;
        let mut word = 0u64;
        let mut pending_zero_words = 0u64;
        for (k, &i) in block.iter().enumerate() {
            let iu = i as usize;
            if self.info_from[iu] <= self.p && self.p < self.info_dead[iu] && bit(&self.applied, i)
            {
                word |= 1 << (k % 64);
            }
            if k % 64 == 63 || k + 1 == block.len() {
                if word == 0 {
                    pending_zero_words += 1;
                } else {
                    for _ in 0..pending_zero_words {
                        self.key.push(0);
                    }
                    info_words += pending_zero_words + 1;
                    pending_zero_words = 0;
                    self.key.push(word);
                }
                word = 0;
            }
        }
        self.key[1] = window << 32 | info_words;
    }

    /// Stores the current configuration in the memo; false when it was there already (it was
    /// explored, and failed).
    fn remember(&mut self, state: Value, budget: &Budget) -> Result<bool, GaveUp> {
        self.build_key(state);
        if self.memo.contains(self.key.as_slice()) {
            return Ok(false);
        }
        let bytes = self.key.len() as u64 * 8 + ENTRY_OVERHEAD;
        self.memo.insert(self.key.clone().into_boxed_slice());
        self.memo_bytes += bytes;
        self.stats.memo_entries += 1;
        let used = budget.memory_used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if used > budget.memory_limit {
            self.evict(budget)?;
        }
        Ok(true)
    }

    /// Drops memo entries behind the current position; gives up when that frees too little.
    fn evict(&mut self, budget: &Budget) -> Result<(), GaveUp> {
        let p = self.p as u64;
        let before = self.memo_bytes;
        let mut freed = 0u64;
        self.memo.retain(|k| {
            let keep = k[0] >> 32 >= p;
            if !keep {
                freed += k.len() as u64 * 8 + ENTRY_OVERHEAD;
            }
            keep
        });
        self.memo.shrink_to_fit();
        self.memo_bytes = before - freed;
        self.stats.evictions += 1;
        let used = budget.memory_used.fetch_sub(freed, Ordering::Relaxed) - freed;
        if freed < before / 2 || used > budget.memory_limit / 4 * 3 {
            return Err(GaveUp::Memory);
        }
        Ok(())
    }

    /// Records a dead end when it is the deepest so far.
    fn dead_end(&mut self, state: Value) {
        let deeper = match &self.best {
            None => true,
            Some(b) => self.count > b.placed,
        };
        let equal = matches!(&self.best, Some(b) if b.placed == self.count);
        if !deeper && !equal {
            return;
        }
        let mut stuck = Vec::new();
        self.scan(|s, pos| {
            if stuck.len() < STUCK_MAX {
                stuck.push(s.meta[pos as usize]);
            }
            false
        });
        if deeper {
            self.best = Some(Counterexample {
                placed: self.count,
                tail: self.tail(),
                state,
                stuck,
                unwritten: false,
            });
        } else if let Some(best) = &mut self.best {
            for pos in stuck {
                if best.stuck.len() < STUCK_MAX && !best.stuck.contains(&pos) {
                    best.stuck.push(pos);
                }
            }
        }
    }

    /// The last steps of the current path.
    pub fn tail(&self) -> Vec<Placed> {
        let from = self.path.len().saturating_sub(TAIL);
        self.path[from..]
            .iter()
            .map(|&step| match step {
                Step::Def(pos) => Placed {
                    meta: self.meta[pos as usize],
                    uncertain: false,
                },
                Step::Info(i) => Placed {
                    meta: self.info_meta[i as usize],
                    uncertain: true,
                },
            })
            .collect()
    }

    /// Definite operations placed, and the register's value, where the search ended (all of
    /// them and the final value after a success).
    pub fn end(&self) -> (u32, Value) {
        (self.count, self.final_state)
    }

    /// Runs the search to its end or until the budget is spent.
    pub fn run(&mut self, budget: &Budget) -> Outcome {
        let outcome = self.run_inner(budget);
        budget
            .memory_used
            .fetch_sub(self.memo_bytes, Ordering::Relaxed);
        self.memo_bytes = 0;
        self.memo = FxHashSet::default();
        outcome
    }

    fn run_inner(&mut self, budget: &Budget) -> Outcome {
        let gave_up = |why, deepest| Outcome::GaveUp { why, deepest };
        match self.enter(NULL, 0, budget) {
            Ok(Entered::Done) => return Outcome::Linearizable,
            Ok(_) => {}
            Err(why) => return gave_up(why, self.deepest),
        }
        let mut ticks = 0u32;
        while let Some(top) = self.frames.last_mut() {
            ticks = ticks.wrapping_add(1);
            if ticks % 1024 == 0 {
                if Instant::now() > budget.deadline {
                    return gave_up(GaveUp::Time, self.deepest);
                }
                if budget.stop.load(Ordering::Relaxed) {
                    return gave_up(GaveUp::Cancelled, self.deepest);
                }
            }
            if top.next < top.cand_hi {
                let step = self.cands[top.next as usize];
                top.next += 1;
                let from = top.state;
                let base = self.path.len() as u32;
                let state = self.apply(step, from);
                match self.enter(state, base, budget) {
                    Ok(Entered::Done) => return Outcome::Linearizable,
                    Ok(Entered::Dead) => self.undo_to(base),
                    Ok(Entered::Frame) => {}
                    Err(why) => return gave_up(why, self.deepest),
                }
            } else {
                let Some(frame) = self.frames.pop() else {
                    break;
                };
                if frame.next == frame.cand_hi {
                    // Every candidate was tried: a dead end (unless one led to a memo hit of
                    // a deeper one, which was recorded there).
                    self.dead_end(frame.state);
                }
                self.cands.truncate(frame.cand_lo as usize);
                self.undo_to(frame.base);
            }
        }
        let best = self.best.take().unwrap_or(Counterexample {
            placed: 0,
            tail: Vec::new(),
            state: NULL,
            stuck: Vec::new(),
            unwritten: false,
        });
        Outcome::NotLinearizable(best)
    }
}

/// Definite operations that observe a value (a read's, a CAS's expectation) that no operation
/// invoked before they completed writes: no linearization can place them. Positions, by
/// completion. A necessary condition, checked in one pass before the search, which would have
/// to try every order of the operations before them to find the same.
pub fn unwritten(kh: &KeyHistory) -> Vec<u32> {
    let mut first: FxHashMap<Value, u64> = FxHashMap::default();
    first.insert(NULL, 0);
    let writes = kh
        .defs
        .iter()
        .map(|d| (d.lower, d.action))
        .chain(kh.infos.iter().map(|u| (u.call, u.action)));
    for (call, action) in writes {
        if let Some(v) = action.writes() {
            let e = first.entry(v).or_insert(call);
            *e = (*e).min(call);
        }
    }
    let mut out: Vec<u32> = (0..kh.defs.len() as u32)
        .filter(|&pos| {
            let d = &kh.defs[pos as usize];
            d.action
                .observes()
                .is_some_and(|v| first.get(&v).is_none_or(|&call| call > d.ret))
        })
        .collect();
    out.sort_by_key(|&pos| kh.defs[pos as usize].ret);
    out
}

/// The part of a key's history before `deadline` (an ordinal), without the operations in
/// `without`: operations completed before it must be placed, those still open then may be
/// (writes and CAS become uncertain, reads are dropped), later ones are left out. A relaxation
/// of the whole: whatever linearizes the whole linearizes this part.
pub fn before(kh: &KeyHistory, deadline: u64, without: &[u32]) -> KeyHistory {
    let mut defs: Vec<Definite> = Vec::new();
    let mut infos: Vec<Uncertain> = kh
        .infos
        .iter()
        .filter(|u| u.call < deadline)
        .cloned()
        .collect();
    let mut position = vec![NONE; kh.defs.len()];
    for (pos, d) in kh.defs.iter().enumerate() {
        if without.contains(&(pos as u32)) || d.lower >= deadline {
            continue;
        }
        if d.ret < deadline {
            position[pos] = defs.len() as u32;
            let mut d = d.clone();
            d.after = if d.after == NONE {
                NONE
            } else {
                position[d.after as usize]
            };
            defs.push(d);
        } else if !d.action.is_read() {
            infos.push(Uncertain {
                call: d.lower,
                action: d.action,
                meta: d.meta,
            });
        }
    }
    infos.sort_by_key(|u| u.call);
    KeyHistory {
        key: kh.key.clone(),
        values: kh.values.clone(),
        defs,
        infos,
        meta: kh.meta.clone(),
    }
}
