//! Cost of the in-process response cache (moka) per request on one thread: a hit, and a miss that
//! stores a new body in a full cache, against a plain `Mutex<HashMap>` of the same bodies for
//! scale. Keys look like the match-page keys (about 110 bytes). `cargo bench -p symbiont-app
//! --bench response_cache`.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::Bytes;
use symbiont_app::response_cache::{CacheStore, InProcessCache};

fn key(i: usize) -> String {
    format!(
        "00000000deadbeef.42:anonymous:matches:b={i:032x}&f=&c=&m=18446744073709551615&s=&o=Score&l=50&a="
    )
}

/// The median of five batches of `rounds` calls, per call.
fn time(rounds: usize, mut work: impl FnMut(usize)) -> Duration {
    let mut batches: Vec<Duration> = (0..5)
        .map(|batch| {
            let started = Instant::now();
            for i in 0..rounds {
                work(batch * rounds + i);
            }
            started.elapsed() / rounds as u32
        })
        .collect();
    batches.sort();
    batches[2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let body = Bytes::from(vec![b'x'; 4096]);
    let ttl = Duration::from_secs(600);
    let moka = InProcessCache::new(64 * 1024 * 1024);
    let plain: Mutex<HashMap<String, Bytes>> = Mutex::new(HashMap::new());
    for i in 0..4096 {
        runtime
            .block_on(moka.put(&key(i), body.clone(), ttl))
            .expect("in-process puts do not fail");
        plain
            .lock()
            .expect("not poisoned")
            .insert(key(i), body.clone());
    }
    let hit_moka = time(200_000, |i| {
        let got = runtime.block_on(moka.get(&key(i % 4096)));
        black_box(got.expect("in-process gets do not fail"));
    });
    let hit_plain = time(200_000, |i| {
        let got = plain
            .lock()
            .expect("not poisoned")
            .get(&key(i % 4096))
            .cloned();
        black_box(got);
    });
    let miss_moka = time(50_000, |i| {
        runtime
            .block_on(moka.put(&key(10_000 + i), body.clone(), ttl))
            .expect("in-process puts do not fail");
    });
    println!("response cache, one thread, 4,096 entries of 4 KiB:");
    println!(
        "  hit:  moka {hit_moka:?}, Mutex<HashMap> {hit_plain:?} (key formatting included in both)"
    );
    println!("  put into a full cache (evicts): moka {miss_moka:?}");
}
