//! The widget's colour: a host site picks one (`data-color`), and every text drawn on it or
//! in it must stay readable (WCAG 2 contrast, 4.5:1 for text), in the light scheme and the
//! dark one. The colour itself is the host's; the inks on it and the shade used for text on
//! the page's panels are derived here.
//!
//! Written here rather than taken from a crate: the WCAG formulas are a few lines, and the
//! colour crates (palette, csscolorparser) would add more code to the WASM bundle than this.

/// The contrast WCAG 2 asks of body text (AA, 1.4.3).
pub const TEXT_CONTRAST: f64 = 4.5;

/// The backgrounds text in the accent colour is drawn on, per scheme, as in
/// `style/main.css` (`--panel`, `--bg`, `--accent-soft`; a test keeps them equal).
pub const LIGHT_BACKGROUNDS: [&str; 3] = ["#ffffff", "#f4f5f7", "#e5ecff"];
pub const DARK_BACKGROUNDS: [&str; 3] = ["#1a1f27", "#111419", "#253453"];

/// An opaque colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rgb(pub u8, pub u8, pub u8);

impl Rgb {
    /// `#rgb`, `#rgba`, `#rrggbb` or `#rrggbbaa`; an alpha is dropped (what is behind a
    /// translucent colour is not known, so neither would its contrast be).
    pub fn parse(text: &str) -> Option<Rgb> {
        let hex = text.strip_prefix('#')?;
        if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let digit = |i: usize| u8::from_str_radix(&hex[i..i + 1], 16).ok();
        let pair = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).ok();
        match hex.len() {
            3 | 4 => Some(Rgb(digit(0)? * 17, digit(1)? * 17, digit(2)? * 17)),
            6 | 8 => Some(Rgb(pair(0)?, pair(2)?, pair(4)?)),
            _ => None,
        }
    }

    /// `#rrggbb`.
    pub fn hex(self) -> String {
        format!("#{:02x}{:02x}{:02x}", self.0, self.1, self.2)
    }

    /// WCAG 2 relative luminance, 0 (black) to 1 (white).
    pub fn luminance(self) -> f64 {
        let channel = |c: u8| {
            let c = f64::from(c) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(self.0) + 0.7152 * channel(self.1) + 0.0722 * channel(self.2)
    }

    /// WCAG 2 contrast ratio, 1 to 21.
    pub fn contrast(self, other: Rgb) -> f64 {
        let (a, b) = (self.luminance(), other.luminance());
        (a.max(b) + 0.05) / (a.min(b) + 0.05)
    }

    /// The ink for text on this colour: black or white, whichever reads better (one of the two
    /// is always at least 4.58:1). public/widget.js picks its launcher's icon the same way:
    /// keep the two in step (widget.spec.ts checks the icon on five colours).
    pub fn ink(self) -> Rgb {
        if self.contrast(BLACK) >= self.contrast(WHITE) {
            BLACK
        } else {
            WHITE
        }
    }

    /// This colour, darkened (on light backgrounds) or lightened (on dark ones) just enough
    /// to reach `TEXT_CONTRAST` on every one of `backgrounds`.
    pub fn readable_on(self, backgrounds: &[Rgb]) -> Rgb {
        let Some(&first) = backgrounds.first() else { return self };
        let toward = if first.luminance() > 0.5 { BLACK } else { WHITE };
        (0..=20)
            .map(|step| self.mix(toward, f64::from(step) / 20.0))
            .find(|c| backgrounds.iter().all(|&b| c.contrast(b) >= TEXT_CONTRAST))
            .unwrap_or(toward)
    }

    fn mix(self, other: Rgb, t: f64) -> Rgb {
        let m = |a: u8, b: u8| (f64::from(a) * (1.0 - t) + f64::from(b) * t).round() as u8;
        Rgb(m(self.0, other.0), m(self.1, other.1), m(self.2, other.2))
    }
}

const BLACK: Rgb = Rgb(0, 0, 0);
const WHITE: Rgb = Rgb(255, 255, 255);

/// The page's custom properties for a host's colour (`style/main.css` reads them): the colour
/// behind buttons and the reader's own bubbles, the ink on it, and the shade of it for text
/// on each scheme's panels.
pub fn widget_properties(host: Rgb) -> Vec<(&'static str, String)> {
    let backgrounds = |list: [&str; 3]| list.map(|c| Rgb::parse(c).expect("a constant colour"));
    let ink = host.ink().hex();
    vec![
        ("--accent", host.hex()),
        ("--accent-ink", ink.clone()),
        ("--mine", host.hex()),
        ("--mine-ink", ink),
        ("--link-light", host.readable_on(&backgrounds(LIGHT_BACKGROUNDS)).hex()),
        ("--link-dark", host.readable_on(&backgrounds(DARK_BACKGROUNDS)).hex()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_colours_the_widget_takes() {
        assert_eq!(Rgb::parse("#1b7f4b"), Some(Rgb(0x1b, 0x7f, 0x4b)));
        assert_eq!(Rgb::parse("#fA0"), Some(Rgb(0xff, 0xaa, 0x00)));
        assert_eq!(Rgb::parse("#fA08"), Some(Rgb(0xff, 0xaa, 0x00)));
        assert_eq!(Rgb::parse("#11223344"), Some(Rgb(0x11, 0x22, 0x33)));
        for bad in ["", "#", "1b7f4b", "#12345", "#ggg", "#1b7f4b0", "red", "#+1+2+3"] {
            assert_eq!(Rgb::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn contrast_is_wcag_s() {
        assert!((WHITE.contrast(BLACK) - 21.0).abs() < 1e-9);
        // The case the issue measured: #dbe4ff on #1b7f4b is 3.95:1.
        let green = Rgb::parse("#1b7f4b").unwrap();
        let pale = Rgb::parse("#dbe4ff").unwrap();
        assert!((green.contrast(pale) - 3.95).abs() < 0.01, "{}", green.contrast(pale));
    }

    #[test]
    fn every_host_colour_gets_readable_ink_and_links_in_both_schemes() {
        let light = LIGHT_BACKGROUNDS.map(|c| Rgb::parse(c).unwrap());
        let dark = DARK_BACKGROUNDS.map(|c| Rgb::parse(c).unwrap());
        // Every 17th step of each channel: 4,096 colours, the light, dark and mid ones.
        for r in (0..=255).step_by(17) {
            for g in (0..=255).step_by(17) {
                for b in (0..=255).step_by(17) {
                    let host = Rgb(r as u8, g as u8, b as u8);
                    assert!(host.contrast(host.ink()) >= TEXT_CONTRAST, "{host:?}");
                    for (backgrounds, scheme) in [(&light, "light"), (&dark, "dark")] {
                        let link = host.readable_on(backgrounds);
                        for &bg in backgrounds {
                            assert!(
                                link.contrast(bg) >= TEXT_CONTRAST,
                                "{host:?} on {bg:?} ({scheme})"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_readable_colour_is_kept_as_the_host_chose_it() {
        let blue = Rgb::parse("#2457d6").unwrap();
        assert_eq!(blue.readable_on(&LIGHT_BACKGROUNDS.map(|c| Rgb::parse(c).unwrap())), blue);
        assert_eq!(blue.ink(), WHITE);
        assert_eq!(Rgb::parse("#ffd400").unwrap().ink(), BLACK);
    }

    #[test]
    fn the_backgrounds_are_the_stylesheet_s() {
        // The light values in :root, the dark ones in the prefers-color-scheme block.
        let css = include_str!("../../style/main.css");
        let dark_at = css.find("@media (prefers-color-scheme: dark)").expect("a dark scheme");
        let (light_css, dark_css) = css.split_at(dark_at);
        let value = |css: &str, name: &str| {
            let at = css.find(&format!("{name}: ")).unwrap_or_else(|| panic!("{name}"));
            css[at + name.len() + 2..at + name.len() + 9].to_string()
        };
        for (css, list) in [(light_css, LIGHT_BACKGROUNDS), (dark_css, DARK_BACKGROUNDS)] {
            let names = ["--panel", "--bg", "--accent-soft"];
            for (name, colour) in names.iter().zip(list) {
                assert_eq!(value(css, name), colour, "{name}");
            }
        }
    }

    #[test]
    fn the_widget_s_properties_for_a_green_host() {
        let props = widget_properties(Rgb::parse("#1b7f4b").unwrap());
        let get = |n: &str| props.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone()).unwrap();
        assert_eq!(get("--mine"), "#1b7f4b");
        assert_eq!(get("--mine-ink"), "#ffffff");
        // 4.25:1 on the light scheme's --accent-soft, 3.3:1 on the dark panel (2.5:1 on its
        // --accent-soft): darkened for the one, lightened for the other.
        let (light, dark) =
            (Rgb::parse(&get("--link-light")).unwrap(), Rgb::parse(&get("--link-dark")).unwrap());
        assert!(light.luminance() < Rgb(0x1b, 0x7f, 0x4b).luminance());
        assert!(dark.luminance() > Rgb(0x1b, 0x7f, 0x4b).luminance());
    }
}
