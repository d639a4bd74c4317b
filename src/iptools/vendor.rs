//! MAC address → vendor, from the IEEE registries (MA-L, MA-M, MA-S, CID, IAB) compiled into the
//! `oui-data` crate (MIT), so lookups need no network and no file.

use std::fmt;
use std::str::FromStr;

use rust_i18n::t;

/// A 48-bit Ethernet address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }

    /// Set by whoever configured the address (VMs, containers, privacy addresses): no vendor.
    pub fn is_locally_administered(&self) -> bool {
        self.0[0] & 0x02 != 0
    }

    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            o[0], o[1], o[2], o[3], o[4], o[5]
        )
    }
}

impl FromStr for Mac {
    type Err = String;

    /// Accepts `aa:bb:cc:dd:ee:ff` and `aa-bb-cc-dd-ee-ff`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.trim().split([':', '-']).collect();
        let not_mac = || t!("iptools.vendor.not_mac", text = s).into_owned();
        if parts.len() != 6 {
            return Err(not_mac());
        }
        let mut out = [0u8; 6];
        for (o, p) in out.iter_mut().zip(parts) {
            if p.is_empty() || p.len() > 2 {
                return Err(not_mac());
            }
            *o = u8::from_str_radix(p, 16).map_err(|_| not_mac())?;
        }
        Ok(Self(out))
    }
}

/// The organisation the IEEE registered this MAC's prefix to.
pub fn vendor(mac: &Mac) -> Option<&'static str> {
    use std::fmt::Write as _;
    let mut hex = String::with_capacity(12);
    for b in mac.0 {
        let _ = write!(hex, "{b:02X}");
    }
    oui_data::lookup(&hex).map(oui_data::OuiData::organization)
}

/// The vendor, or why there is none, as shown in tables.
pub fn vendor_text(mac: &Mac) -> String {
    match vendor(mac) {
        Some(v) => v.to_owned(),
        None if mac.is_locally_administered() => t!("iptools.vendor.local").into_owned(),
        None => t!("iptools.vendor.unregistered").into_owned(),
    }
}
