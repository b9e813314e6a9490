//! A token's `ip` text: addresses and CIDR ranges (IPv4, IPv6) with `!` exclusions.
//! Parsing it with per-line problems, and checking a client address against it.

use std::net::IpAddr;

use crate::Problem;
use crate::limits::MAX_IP_ENTRIES;

/// An address range: the network address (host bits zero) and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask32(u32::from(ip), self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask128(u128::from(ip), self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

fn mask32(bits: u32, prefix: u8) -> u32 {
    bits.checked_shr(32 - u32::from(prefix))
        .map_or(0, |b| b << (32 - u32::from(prefix)))
}

fn mask128(bits: u128, prefix: u8) -> u128 {
    bits.checked_shr(128 - u32::from(prefix))
        .map_or(0, |b| b << (128 - u32::from(prefix)))
}

/// A compiled `ip` text.
///
/// Semantics: empty = any address; with inclusions, the client must be in one; exclusions
/// (`!`) win over inclusions; only exclusions = any address except those. IPv4-mapped IPv6
/// addresses (`::ffff:1.2.3.4`) count as IPv4 on both sides, so `10.0.0.0/8` covers
/// `::ffff:10.1.2.3` and `::/0` covers no IPv4 client. A client address that does not parse
/// is never allowed, whatever the rules.
#[derive(Debug, Clone, Default)]
pub(crate) struct IpRules {
    include: Vec<Net>,
    exclude: Vec<Net>,
}

/// Why a client address was refused.
pub(crate) enum IpRefusal {
    Unparsable,
    Excluded,
    NotIncluded,
}

impl IpRules {
    /// Parses an `ip` text: entries separated by commas or whitespace, lines by newlines
    /// (numbered from 1 for problems). A range with host bits set is refused rather than
    /// masked: `10.0.0.1/8` is more likely a typo than a wish for all of `10.0.0.0/8`.
    pub(crate) fn parse(text: &str) -> Result<IpRules, Vec<Problem>> {
        let mut rules = IpRules::default();
        let mut problems = Vec::new();
        let mut entries = 0usize;
        for (index, line) in text.lines().enumerate() {
            let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
            for item in line.split(|c: char| c == ',' || c.is_whitespace()) {
                if item.is_empty() {
                    continue;
                }
                entries += 1;
                if entries == MAX_IP_ENTRIES + 1 {
                    problems.push(Problem::new(
                        number,
                        format!("too many entries; at most {MAX_IP_ENTRIES} are allowed"),
                    ));
                }
                match parse_entry(item) {
                    Ok((true, net)) => rules.exclude.push(net),
                    Ok((false, net)) => rules.include.push(net),
                    Err(message) => problems.push(Problem::new(number, message)),
                }
            }
        }
        if problems.is_empty() {
            Ok(rules)
        } else {
            Err(problems)
        }
    }

    /// Whether `client` (an address as text) may use the token.
    pub(crate) fn check(&self, client: &str) -> Result<(), IpRefusal> {
        let Ok(ip) = client.trim().parse::<IpAddr>() else {
            return Err(IpRefusal::Unparsable);
        };
        let ip = ip.to_canonical();
        if self.exclude.iter().any(|net| net.contains(ip)) {
            return Err(IpRefusal::Excluded);
        }
        if !self.include.is_empty() && !self.include.iter().any(|net| net.contains(ip)) {
            return Err(IpRefusal::NotIncluded);
        }
        Ok(())
    }
}

/// One entry: `[!]address[/prefix]`; `true` for an exclusion.
fn parse_entry(item: &str) -> Result<(bool, Net), String> {
    let (excluded, written) = match item.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, item),
    };
    if written.is_empty() {
        return Err(
            "\"!\" must be followed by an address, without a space (e.g. !10.0.0.1)".to_string(),
        );
    }
    let (addr_text, prefix_text) = match written.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (written, None),
    };
    let Ok(addr) = addr_text.parse::<IpAddr>() else {
        return Err(format!("\"{written}\" is not an IP address or CIDR range"));
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix_text {
        None => max,
        Some(p) => match p.parse::<u8>() {
            Ok(n) if n <= max && p.bytes().all(|b| b.is_ascii_digit()) => n,
            _ => {
                let family = if addr.is_ipv4() { "IPv4" } else { "IPv6" };
                return Err(format!(
                    "\"{written}\": the prefix length must be a number from 0 to {max} for {family}"
                ));
            }
        },
    };
    let net = canonical_net(addr, prefix);
    let masked = Net {
        addr: mask(net.addr, net.prefix),
        prefix: net.prefix,
    };
    if masked.addr != net.addr {
        let suggestion = match masked.addr {
            // An IPv4-mapped entry is suggested in the form it was written.
            IpAddr::V4(v4) if addr.is_ipv6() => {
                format!("::ffff:{v4}/{}", prefix)
            }
            a => format!("{a}/{prefix}"),
        };
        return Err(format!(
            "{written} has host bits set; did you mean {suggestion}?"
        ));
    }
    Ok((excluded, net))
}

/// An IPv4-mapped IPv6 range with a prefix of at least 96 is the IPv4 range it maps.
fn canonical_net(addr: IpAddr, prefix: u8) -> Net {
    match addr {
        IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
            Some(v4) => Net {
                addr: IpAddr::V4(v4),
                prefix: prefix - 96,
            },
            None => Net { addr, prefix },
        },
        _ => Net { addr, prefix },
    }
}

fn mask(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(v4) => IpAddr::V4(mask32(u32::from(v4), prefix).into()),
        IpAddr::V6(v6) => IpAddr::V6(mask128(u128::from(v6), prefix).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> IpRules {
        match IpRules::parse(text) {
            Ok(r) => r,
            Err(p) => panic!("{text}: {p:?}"),
        }
    }

    fn allows(text: &str, client: &str) -> bool {
        rules(text).check(client).is_ok()
    }

    fn problems(text: &str) -> Vec<Problem> {
        IpRules::parse(text).err().unwrap_or_default()
    }

    #[test]
    fn inclusions_and_exclusions() {
        assert!(allows("", "192.0.2.10"));
        assert!(allows("", "2001:db8::1"));
        assert!(!allows("", "nonsense"));
        assert!(allows("192.0.2.0/24", "192.0.2.10"));
        assert!(!allows("192.0.2.0/24", "192.0.3.10"));
        assert!(!allows("192.0.2.0/24, !192.0.2.10", "192.0.2.10"));
        assert!(allows("192.0.2.0/24 !192.0.2.10", "192.0.2.11"));
        assert!(allows("!192.0.2.10", "198.51.100.1"));
        assert!(!allows("!192.0.2.10", "192.0.2.10"));
        assert!(allows("0.0.0.0/0", "203.0.113.9"));
        assert!(!allows("0.0.0.0/0", "::1"));
        assert!(allows("2001:db8::/32\n10.0.0.1", "2001:db8:1::5"));
        assert!(allows("::/0", "2001:db8::1"));
    }

    #[test]
    fn mapped_addresses_are_ipv4() {
        assert!(allows("10.0.0.0/8", "::ffff:10.1.2.3"));
        assert!(allows("::ffff:10.0.0.0/104", "10.9.9.9"));
        assert!(allows("::ffff:10.1.2.3", "10.1.2.3"));
        assert!(!allows("::/0", "::ffff:10.1.2.3"));
    }

    #[test]
    fn problems_name_the_line() {
        let p = problems("10.0.0.0/8\n10.0.0.1/8");
        assert_eq!(p.len(), 1);
        assert_eq!(
            p[0].message,
            "line 2: 10.0.0.1/8 has host bits set; did you mean 10.0.0.0/8?"
        );
        let p = problems("10.0.0.0/33, foo\n2001:db8::/129\n! 1.2.3.4\n10.0.0.0/+8");
        let lines: Vec<u32> = p.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![1, 1, 2, 3, 4]);
        assert!(p[0].message.contains("prefix length"));
        assert!(p[1].message.contains("not an IP address"));
        assert!(p[3].message.contains("\"!\""));
        assert!(
            problems("fe80::1%eth0")[0]
                .message
                .contains("not an IP address")
        );
        assert!(
            problems("010.0.0.1")[0]
                .message
                .contains("not an IP address")
        );
    }
}
