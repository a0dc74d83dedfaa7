//! The machinery behind `settings!` (in `config.rs`): each training setting is written once
//! there, with its doc, type, default and range, and the macro derives from it the config struct
//! (its TOML and JSON keys), the command line's flags, the validation of ranges, the panels'
//! ranges (`config::range`) and the table of settings in the README ([`markdown_table`]).

/// A setting as the command line takes it: the value a flag parses to, and how it sets the field.
/// A flag for an optional setting (`--dim 8`) sets it; a list is written with commas.
pub trait Flag: Sized {
    type Value: Clone + Send + Sync + 'static;
    fn from_flag(value: Self::Value) -> Self;
}

macro_rules! plain_flags {
    ($($t:ty),*) => {$(
        impl Flag for $t {
            type Value = $t;
            fn from_flag(value: $t) -> $t {
                value
            }
        }
    )*};
}
plain_flags!(
    usize,
    u64,
    f64,
    bool,
    String,
    crate::method::Method,
    crate::method::Kappa,
    crate::method::MixWeight,
    crate::backend::BackendKind,
    crate::solve::Solver,
    crate::nn::TimeEmbedding,
    crate::nn::Activation,
    super::LrSchedule,
    super::TrainDraw
);

impl<T: Flag<Value = T> + Clone + Send + Sync + 'static> Flag for Option<T> {
    type Value = T;
    fn from_flag(value: T) -> Self {
        Some(value)
    }
}

/// CSV column names given on the command line as one comma-separated list.
#[derive(Clone, Debug, PartialEq)]
pub struct Columns(pub Vec<String>);

impl std::str::FromStr for Columns {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(Self(s.split(',').map(|c| c.trim().to_string()).collect()))
    }
}

impl Flag for Vec<String> {
    type Value = Columns;
    fn from_flag(value: Columns) -> Self {
        value.0
    }
}

/// The defaults as TOML, serialised once: every flag's help reads its default from here when the
/// command line is built.
static DEFAULTS: std::sync::LazyLock<toml::Table> =
    std::sync::LazyLock::new(|| toml::Table::try_from(super::TrainConfig::default()).expect("the defaults serialise"));

/// One setting as the README and the command line's help describe it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Setting {
    /// The TOML key and the flag's name (kebab-case).
    pub key: &'static str,
    pub doc: &'static str,
    /// The allowed range as written in the declaration (`1..=10_000_000`), if it has one.
    pub range: Option<(&'static str, &'static str)>,
}

impl Setting {
    /// The default value as a TOML file writes it (`4000`, `"moons"`, `false`); empty when the
    /// setting is off by default.
    pub fn default_text(&self) -> String {
        DEFAULTS.get(self.key).map(toml::Value::to_string).unwrap_or_default()
    }

    /// What `--help` says of the flag: its doc, its range and its default.
    pub fn help(&self) -> String {
        let mut help = self.doc.trim().to_string();
        if let Some((lo, hi)) = self.range {
            help += &format!(" From {} to {}.", number_text(lo), number_text(hi));
        }
        help + &format!(" [default: {}]", self.default_shown().trim_matches('`'))
    }

    /// The default as the README and `--help` show it: `off` for an optional setting that is
    /// not set, `none` for an empty list.
    fn default_shown(&self) -> String {
        match self.default_text().as_str() {
            "" => "off".into(),
            "[]" => "none".into(),
            d => format!("`{}`", d.trim_matches('"')),
        }
    }
}

/// A bound as declared, for people: `10_000_000` reads `10,000,000`.
pub fn number_text(literal: &str) -> String {
    literal.replace('_', ",")
}

/// The README's table of settings, one row per setting, made from the declaration.
pub fn markdown_table() -> String {
    let mut table = String::from("| setting | default | range | meaning |\n| --- | --- | --- | --- |\n");
    for s in super::SETTINGS {
        let default = s.default_shown();
        let range = s.range.map_or(String::new(), |(lo, hi)| {
            format!("{} to {}", number_text(lo), number_text(hi))
        });
        table += &format!(
            "| `{}` | {default} | {range} | {} |\n",
            s.key,
            s.doc.trim().replace('|', "\\|")
        );
    }
    table
}

/// Declares the training settings: see the top of this module. Each entry is its doc comment,
/// `name: Type = default`, and optionally `, range LO..=HI` (checked by `TrainConfig::validate`,
/// and the range the panels offer).
macro_rules! settings {
    ($(
        $(#[doc = $doc:literal])+
        $name:ident : $ty:ty = $default:expr $(, range $lo:literal ..= $hi:literal)? ;
    )*) => {
        /// Every setting of a training run, with the defaults of SPEC sections 2-4. One struct
        /// serves the TOML config file, the command-line flags (which override it) and the run
        /// folder's config.json.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
        pub struct TrainConfig {
            $( $(#[doc = $doc])+ pub $name: $ty, )*
        }

        impl Default for TrainConfig {
            fn default() -> Self {
                Self { $( $name: $default, )* }
            }
        }

        /// Every setting as a command-line flag, each one optional: a flag given overrides the
        /// config file, which overrides the defaults.
        #[cfg(feature = "clap")]
        #[derive(clap::Args, Clone, Debug, Default)]
        pub struct TrainFlags {
            $(
                #[arg(long, help = setting(stringify!($name)).help())]
                pub $name: Option<<$ty as declare::Flag>::Value>,
            )*
        }

        #[cfg(feature = "clap")]
        impl TrainFlags {
            /// Sets in `config` every setting a flag was given for.
            pub fn apply(&self, config: &mut TrainConfig) {
                $( if let Some(v) = &self.$name { config.$name = declare::Flag::from_flag(v.clone()); } )*
            }
        }

        /// Every setting, in the order declared.
        pub const SETTINGS: &[declare::Setting] = &[$(
            declare::Setting {
                key: kebab!(stringify!($name)),
                doc: concat!($($doc),+),
                range: declared_range!($($lo, $hi)?),
            },
        )*];

        /// The range of each setting that has one, typed as the setting (an optional setting's
        /// range is its value's): what validation allows and what the panels offer.
        #[allow(non_upper_case_globals)]
        pub mod range {
            use super::declare::Flag;
            $($(
                pub const $name: std::ops::RangeInclusive<<$ty as Flag>::Value> = $lo..=$hi;
            )?)*
        }

        impl TrainConfig {
            /// The first setting outside its declared range, as `setting `key`: must be ...`.
            fn check_ranges(&self) -> Result<(), SettingError> {
                $($(
                    if let Some(value) = declare::values(&self.$name) {
                        if !range::$name.contains(value) {
                            return Err(SettingError::new(
                                kebab!(stringify!($name)),
                                format!(
                                    "must be between {} and {}, got {value}",
                                    declare::number_text(stringify!($lo)),
                                    declare::number_text(stringify!($hi)),
                                ),
                            ));
                        }
                    }
                )?)*
                Ok(())
            }
        }
    };
}

/// A declared range as written, for [`Setting::range`].
macro_rules! declared_range {
    () => {
        None
    };
    ($lo:literal, $hi:literal) => {
        Some((stringify!($lo), stringify!($hi)))
    };
}

/// The kebab-case key of a field name, at compile time.
macro_rules! kebab {
    ($name:expr) => {{
        const NAME: &str = $name;
        const LEN: usize = NAME.len();
        const BYTES: [u8; LEN] = {
            let mut out = [0u8; LEN];
            let bytes = NAME.as_bytes();
            let mut i = 0;
            while i < LEN {
                out[i] = if bytes[i] == b'_' { b'-' } else { bytes[i] };
                i += 1;
            }
            out
        };
        match std::str::from_utf8(&BYTES) {
            Ok(s) => s,
            Err(_) => panic!("a field name is ASCII"),
        }
    }};
}

/// The values a ranged setting holds: one, or none when an optional setting is off.
pub fn values<T: RangeValue>(value: &T) -> Option<&T::Inner> {
    value.inner()
}

/// A setting's value as its range sees it.
pub trait RangeValue {
    type Inner;
    fn inner(&self) -> Option<&Self::Inner>;
}

macro_rules! range_values {
    ($($t:ty),*) => {$(
        impl RangeValue for $t {
            type Inner = $t;
            fn inner(&self) -> Option<&$t> {
                Some(self)
            }
        }
    )*};
}
range_values!(usize, u64, f64);

impl<T> RangeValue for Option<T> {
    type Inner = T;
    fn inner(&self) -> Option<&T> {
        self.as_ref()
    }
}

pub(crate) use {declared_range, kebab, settings};
