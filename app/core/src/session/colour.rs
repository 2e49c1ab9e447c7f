//! A colour per participant, the same on every viewer: chosen from the user name, so no
//! message has to carry it and nobody can pick another's.

/// Distinct, saturated colours that read on grey steel and on the alarm colours' neighbours
/// (no pure red, amber or yellow: those mean alarms in the plant).
const PALETTE: [[u8; 3]; 10] = [
    [0x1f, 0x9e, 0xff], // blue
    [0x00, 0xc8, 0x96], // teal
    [0xb4, 0x5a, 0xff], // violet
    [0xff, 0x5a, 0xc8], // pink
    [0x50, 0xdc, 0x3c], // green
    [0x00, 0xd2, 0xe6], // cyan
    [0x82, 0x78, 0xff], // periwinkle
    [0xe6, 0x8c, 0xff], // lilac
    [0x96, 0xe6, 0x00], // lime
    [0xff, 0x82, 0x96], // rose
];

/// The colour of `user` (sRGB).
pub fn colour_of(user: &str) -> [u8; 3] {
    // FNV-1a: stable across processes and versions, unlike the std hasher.
    let hash = user.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    PALETTE[(hash % PALETTE.len() as u64) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_has_the_same_colour_everywhere_and_users_spread_over_the_palette() {
        assert_eq!(colour_of("alice"), colour_of("alice"));
        let used: std::collections::HashSet<[u8; 3]> =
            (0..40).map(|k| colour_of(&format!("user{k}"))).collect();
        assert!(used.len() >= 8, "{} colours for 40 users", used.len());
    }
}
