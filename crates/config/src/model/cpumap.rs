//! `cpu-map [auto:]<process-set>[/<thread-set>] <cpu-set>…` (configuration.txt §3.1), typed.
//!
//! Since HAProxy 2.5 there is one process, so the process set may only be `1`, `all`, `odd`
//! or `even` (the last two naming no thread beyond the first process). Sets are numbers,
//! ranges `a-b` and comma lists; CPU sets may span several words.

/// One `cpu-map` line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuMap {
    /// `auto:`: the threads of the set take the CPUs of the set one each, in order.
    pub auto: bool,
    /// 1-based thread numbers; empty means every thread.
    pub threads: Vec<u32>,
    /// CPU numbers, ascending, without duplicates.
    pub cpus: Vec<usize>,
}

/// The most threads or CPUs a set may name (HAProxy's LONGBITS on 64-bit systems).
const MAX_ID: u32 = 64;

impl CpuMap {
    /// Parses the words after `cpu-map`.
    pub fn parse(args: &[String]) -> Result<CpuMap, String> {
        let usage = "write e.g. 'cpu-map 1/1 0', 'cpu-map 1/all 0-3' or 'cpu-map auto:1/1-4 0-3'";
        let (first, cpu_words) = match args.split_first() {
            Some((f, rest)) if !rest.is_empty() => (f.as_str(), rest),
            _ => {
                return Err(format!(
                    "'cpu-map' expects a thread set and a CPU set ({usage})"
                ))
            }
        };
        let (auto, first) = match first.strip_prefix("auto:") {
            Some(rest) => (true, rest),
            None => (false, first),
        };
        let (process, thread) = match first.split_once('/') {
            Some((p, t)) => (p, Some(t)),
            None => (first, None),
        };
        if !matches!(process, "1" | "all" | "odd") {
            return Err(format!(
                "'cpu-map': process set '{process}' names a process other than the first; Fulcrum runs one process with threads ({usage})"
            ));
        }
        let threads = match thread {
            None | Some("all") => Vec::new(),
            Some(t) => {
                set(t, 1).map_err(|e| format!("'cpu-map': thread set '{t}': {e} ({usage})"))?
            }
        };
        let mut cpus = Vec::new();
        for w in cpu_words {
            let s = set(w, 0).map_err(|e| format!("'cpu-map': CPU set '{w}': {e} ({usage})"))?;
            cpus.extend(s.into_iter().map(|c| c as usize));
        }
        cpus.sort_unstable();
        cpus.dedup();
        Ok(CpuMap {
            auto,
            threads,
            cpus,
        })
    }

    /// The CPUs thread `t` (1-based) is bound to by this line, if it names it.
    pub fn cpus_for(&self, t: u32, nbthread: u32) -> Option<Vec<usize>> {
        let threads: Vec<u32> = if self.threads.is_empty() {
            (1..=nbthread).collect()
        } else {
            self.threads.clone()
        };
        let pos = threads.iter().position(|&x| x == t)?;
        if self.auto {
            // One CPU each, in order; threads beyond the CPU list wrap around.
            let c = *self.cpus.get(pos % self.cpus.len().max(1))?;
            Some(vec![c])
        } else {
            Some(self.cpus.clone())
        }
    }
}

/// The CPU set of each thread `1..=nbthread` after every line (later lines win), `None`
/// for a thread no line names.
pub fn thread_cpus(maps: &[CpuMap], nbthread: u32) -> Vec<Option<Vec<usize>>> {
    (1..=nbthread)
        .map(|t| maps.iter().rev().find_map(|m| m.cpus_for(t, nbthread)))
        .collect()
}

/// `1`, `1-4`, `0,2,4-6`; `min` is the smallest id allowed (threads start at 1).
fn set(text: &str, min: u32) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for part in text.split(',') {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let num = |s: &str| -> Result<u32, String> {
            s.parse::<u32>()
                .map_err(|_| format!("'{s}' is not a number"))
        };
        let (a, b) = (num(a)?, num(b)?);
        if a > b {
            return Err(format!("range '{part}' goes backwards"));
        }
        if a < min || b >= MAX_ID + min {
            return Err(format!("'{part}' is outside {min}-{}", MAX_ID + min - 1));
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> Result<CpuMap, String> {
        CpuMap::parse(&s.split_whitespace().map(str::to_string).collect::<Vec<_>>())
    }

    #[test]
    fn forms_haproxy_documents() {
        assert_eq!(
            m("1/1 0").unwrap(),
            CpuMap {
                auto: false,
                threads: vec![1],
                cpus: vec![0]
            }
        );
        assert_eq!(m("1/all 0-3").unwrap().threads, Vec::<u32>::new());
        assert_eq!(
            m("auto:1/1-4 0-3").unwrap(),
            CpuMap {
                auto: true,
                threads: vec![1, 2, 3, 4],
                cpus: vec![0, 1, 2, 3]
            }
        );
        assert_eq!(m("1 0 2 4-5").unwrap().cpus, vec![0, 2, 4, 5]);
        assert_eq!(m("all/2,4 1").unwrap().threads, vec![2, 4]);
    }

    #[test]
    fn errors_name_the_set_and_the_fix() {
        assert!(m("2/1 0").unwrap_err().contains("process set '2'"));
        assert!(m("1/0 0").unwrap_err().contains("thread set '0'"));
        assert!(m("1/1 x").unwrap_err().contains("CPU set 'x'"));
        assert!(m("1/4-2 0").unwrap_err().contains("backwards"));
        assert!(m("1/1").unwrap_err().contains("expects"));
    }

    #[test]
    fn per_thread_binding() {
        let maps = vec![m("auto:1/1-4 0-3").unwrap(), m("1/4 7").unwrap()];
        assert_eq!(
            thread_cpus(&maps, 5),
            vec![
                Some(vec![0]),
                Some(vec![1]),
                Some(vec![2]),
                Some(vec![7]),
                None
            ]
        );
        let all = vec![m("1/all 2-3").unwrap()];
        assert_eq!(
            thread_cpus(&all, 2),
            vec![Some(vec![2, 3]), Some(vec![2, 3])]
        );
    }
}
