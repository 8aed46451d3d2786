//! The seeded benchmark dataset: ~N MiB in ~20,000 files (1 KiB..50 MiB,
//! log-skewed sizes), 10% duplicate files, ~45% incompressible bytes.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use rand::rngs::SmallRng;
use rand::{Rng, RngExt, SeedableRng};

const MIN: f64 = 1024.0;
const MAX: f64 = 50.0 * 1024.0 * 1024.0;

#[derive(Clone, Debug)]
pub(crate) struct FileSpec {
    pub path: PathBuf,
    pub size: usize,
    /// Content seed; duplicates share the seed of their original.
    pub seed: u64,
    pub random: bool,
}

fn size_for(u: f64, p: f64) -> f64 {
    MIN * (MAX / MIN).powf(u.powf(p))
}

/// Chooses the skew so the mean size gives `total` bytes over `n` files.
fn skew(n: usize, total: f64) -> f64 {
    let mean = |p: f64| {
        (0..2000)
            .map(|i| size_for((i as f64 + 0.5) / 2000.0, p))
            .sum::<f64>()
            / 2000.0
    };
    let (mut lo, mut hi) = (1.0, 64.0);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if mean(mid) * n as f64 > total {
            lo = mid
        } else {
            hi = mid
        }
    }
    (lo + hi) / 2.0
}

pub(crate) fn plan(root: &Path, size_mib: u64) -> Vec<FileSpec> {
    let total = size_mib as f64 * 1024.0 * 1024.0;
    let n = ((20_000.0 * size_mib as f64 / 1024.0) as usize).max(200);
    let p = skew(n, total);
    let mut rng = SmallRng::seed_from_u64(0x5eed_0001);
    let mut sizes: Vec<f64> = (0..n).map(|_| size_for(rng.random::<f64>(), p)).collect();
    let scale = total / sizes.iter().sum::<f64>();
    sizes
        .iter_mut()
        .for_each(|s| *s = (*s * scale).clamp(MIN, MAX));
    let mut specs: Vec<FileSpec> = Vec::with_capacity(n);
    let (mut rand_bytes, mut all_bytes) = (0f64, 0f64);
    for (i, s) in sizes.iter().enumerate() {
        let path = root.join(format!(
            "d{:02}/s{:02}/f{:05}.dat",
            i % 37,
            (i / 37) % 17,
            i
        ));
        if i > 10 && rng.random::<f64>() < 0.10 {
            let orig = specs[rng.random_range(0..specs.len())].clone();
            specs.push(FileSpec { path, ..orig });
            continue;
        }
        let random = rand_bytes < 0.45 * (all_bytes + s);
        if random {
            rand_bytes += s;
        }
        all_bytes += s;
        specs.push(FileSpec {
            path,
            size: *s as usize,
            seed: i as u64 + 1,
            random,
        });
    }
    specs
}

const WORDS: usize = 2048;

/// Pseudo-text: words from a seeded vocabulary, compresses ~3-4x.
fn text(rng: &mut SmallRng, out: &mut Vec<u8>, len: usize, vocab: &[Vec<u8>]) {
    while out.len() < len {
        let w = &vocab[(rng.next_u32() as usize) % WORDS];
        out.extend_from_slice(w);
        out.push(if rng.next_u32().is_multiple_of(12) {
            b'\n'
        } else {
            b' '
        });
    }
    out.truncate(len);
}

pub(crate) fn vocab() -> Vec<Vec<u8>> {
    let mut rng = SmallRng::seed_from_u64(7);
    (0..WORDS)
        .map(|_| {
            let l = 2 + rng.next_u32() as usize % 9;
            (0..l).map(|_| b'a' + (rng.next_u32() % 26) as u8).collect()
        })
        .collect()
}

pub(crate) fn content(spec: &FileSpec, vocab: &[Vec<u8>], buf: &mut Vec<u8>) {
    buf.clear();
    let mut rng = SmallRng::seed_from_u64(spec.seed);
    if spec.random {
        buf.resize(spec.size, 0);
        rng.fill_bytes(buf);
    } else {
        text(&mut rng, buf, spec.size, vocab);
    }
}

pub(crate) fn generate(root: &Path, specs: &[FileSpec]) -> u64 {
    let _ = fs::remove_dir_all(root);
    let v = vocab();
    let mut buf = Vec::new();
    let mut total = 0;
    for s in specs {
        fs::create_dir_all(s.path.parent().unwrap()).unwrap();
        content(s, &v, &mut buf);
        fs::File::create(&s.path).unwrap().write_all(&buf).unwrap();
        total += buf.len() as u64;
    }
    std::os::unix::fs::symlink("d00/s00/f00000.dat", root.join("link-to-first")).unwrap();
    total
}

/// The files changed for the "1% modified" run.
pub(crate) fn modified(specs: &[FileSpec]) -> Vec<usize> {
    let mut rng = SmallRng::seed_from_u64(0x5eed_0002);
    let k = (specs.len() / 100).max(1);
    let mut out: Vec<usize> = (0..k).map(|_| rng.random_range(0..specs.len())).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Overwrites 4 KiB at a random place in each chosen file.
pub(crate) fn modify(specs: &[FileSpec], which: &[usize]) {
    use std::os::unix::fs::FileExt;
    let mut rng = SmallRng::seed_from_u64(0x5eed_0003);
    for &i in which {
        let s = &specs[i];
        let f = fs::OpenOptions::new().write(true).open(&s.path).unwrap();
        let mut patch = vec![0u8; 4096.min(s.size)];
        rng.fill_bytes(&mut patch);
        let off = rng.random_range(0..=(s.size - patch.len()) as u64);
        f.write_all_at(&patch, off).unwrap();
    }
}

/// Puts modified files back to their generated content.
pub(crate) fn unmodify(specs: &[FileSpec], which: &[usize]) {
    let v = vocab();
    let mut buf = Vec::new();
    for &i in which {
        content(&specs[i], &v, &mut buf);
        fs::write(&specs[i].path, &buf).unwrap();
    }
}
