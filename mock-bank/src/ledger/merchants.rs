//! The embedded merchant table: who customers buy from, with ISO 18245 merchant category codes, how the merchant's
//! acquirer prints the descriptor, and how much a purchase there usually costs.
//!
//! Descriptor patterns follow what US statements really show: store numbers ("SAFEWAY #1234"), city and state
//! suffixes for card-present purchases, "SQ *" (Square) and "TST*" (Toast) prefixes for small sellers,
//! "AMZN Mktp US*2K4LD0QZ3" order references, bare web names for subscriptions ("NETFLIX.COM"). Data only.

use super::model::TxKind;

/// What kind of purchase a merchant sells; decides amounts, time of day, channel and settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Class {
    Grocery,
    Convenience,
    /// Pay-at-pump (MCC 5542): $1 status check or a $100-175 hold, settled at the pump amount.
    FuelPump,
    /// Pay inside (MCC 5541).
    FuelStation,
    /// MCC 5812: the tip is added between authorization and posting.
    FullService,
    /// MCC 5814.
    FastFood,
    Coffee,
    Shopping,
    Online,
    Electronics,
    Rideshare,
    Delivery,
    Airline,
    /// Hotels authorize the stay plus incidentals; some holds drop.
    Hotel,
    /// Rental deposits: holds that drop.
    CarRental,
}

impl Class {
    /// Median (dollars) and log-normal shape of one purchase.
    pub(crate) fn amount(self) -> (f64, f64) {
        match self {
            Self::Grocery => (50.0, 0.55),
            Self::Convenience => (9.0, 0.5),
            Self::FuelPump | Self::FuelStation => (46.0, 0.3),
            Self::FullService => (52.0, 0.5),
            Self::FastFood => (11.0, 0.45),
            Self::Coffee => (6.2, 0.35),
            Self::Shopping => (26.0, 1.15),
            Self::Online => (24.0, 1.1),
            Self::Electronics => (120.0, 0.85),
            Self::Rideshare => (19.0, 0.5),
            Self::Delivery => (33.0, 0.35),
            Self::Airline => (330.0, 0.5),
            Self::Hotel => (250.0, 0.5),
            Self::CarRental => (190.0, 0.4),
        }
    }

    /// FDX category text.
    pub(crate) fn category(self) -> &'static str {
        match self {
            Self::Grocery => "Groceries",
            Self::Convenience => "Convenience Stores",
            Self::FuelPump | Self::FuelStation => "Gas & Fuel",
            Self::FullService => "Restaurants",
            Self::FastFood => "Fast Food",
            Self::Coffee => "Coffee Shops",
            Self::Shopping | Self::Online => "Shopping",
            Self::Electronics => "Electronics & Software",
            Self::Rideshare => "Rideshare",
            Self::Delivery => "Food Delivery",
            Self::Airline => "Air Travel",
            Self::Hotel => "Hotel",
            Self::CarRental => "Rental Car",
        }
    }

    pub(crate) fn tx_kind(self) -> TxKind {
        match self {
            Self::Grocery => TxKind::Grocery,
            Self::FuelPump | Self::FuelStation => TxKind::Fuel,
            Self::FullService | Self::FastFood | Self::Coffee | Self::Delivery => TxKind::Restaurant,
            _ => TxKind::Shopping,
        }
    }

    /// Card not present (online, in-app, phone).
    pub(crate) fn card_not_present(self) -> bool {
        matches!(self, Self::Online | Self::Rideshare | Self::Delivery | Self::Airline | Self::Hotel)
    }

    /// Local hours (start, end) during which purchases of this class happen.
    pub(crate) fn hours(self) -> (u32, u32) {
        match self {
            Self::Coffee => (6, 11),
            Self::FastFood => (10, 22),
            Self::FullService => (17, 23),
            Self::Grocery => (8, 21),
            Self::Convenience | Self::FuelPump | Self::FuelStation => (6, 23),
            Self::Online | Self::Delivery | Self::Airline | Self::Hotel => (0, 24),
            Self::Rideshare => (7, 24),
            _ => (9, 21),
        }
    }
}

/// How a descriptor is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// `NAME #1234 CITY ST` (the store number width is the digit count).
    Store { digits: u8 },
    /// `NAME01234 CITY ST`: the store number glued to the stem.
    Glued { digits: u8 },
    /// `SQ *NAME CITY ST`
    Square,
    /// `TST* NAME CITY ST`
    Toast,
    /// `NAME CITY ST`
    Local,
    /// Printed as is.
    Fixed,
    /// `AMZN Mktp US*` + 9-character order reference.
    Amazon,
    /// `NAME` + 10-digit ticket number.
    Ticket,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct MerchantSpec {
    /// Brand as a person would name it (FDX merchant name).
    pub name: &'static str,
    /// The descriptor stem as the acquirer prints it.
    pub stem: &'static str,
    pub mcc: u16,
    pub class: Class,
    pub pattern: Pattern,
}

const fn m(name: &'static str, stem: &'static str, mcc: u16, class: Class, pattern: Pattern) -> MerchantSpec {
    MerchantSpec { name, stem, mcc, class, pattern }
}

use Class as C;
use Pattern as P;

pub(crate) const MERCHANTS: &[MerchantSpec] = &[
    m("Safeway", "SAFEWAY", 5411, C::Grocery, P::Store { digits: 4 }),
    m("Kroger", "KROGER", 5411, C::Grocery, P::Store { digits: 3 }),
    m("Publix", "PUBLIX SUPER MAR", 5411, C::Grocery, P::Store { digits: 4 }),
    m("Whole Foods Market", "WHOLEFDS", 5411, C::Grocery, P::Store { digits: 5 }),
    m("Trader Joe's", "TRADER JOE S", 5411, C::Grocery, P::Store { digits: 3 }),
    m("ALDI", "ALDI", 5411, C::Grocery, P::Store { digits: 5 }),
    m("Wegmans", "WEGMANS", 5411, C::Grocery, P::Store { digits: 3 }),
    m("Jewel-Osco", "JEWEL OSCO", 5411, C::Grocery, P::Store { digits: 4 }),
    m("Walmart", "WAL-MART", 5411, C::Grocery, P::Store { digits: 4 }),
    m("7-Eleven", "7-ELEVEN", 5499, C::Convenience, P::Store { digits: 5 }),
    m("Circle K", "CIRCLE K", 5499, C::Convenience, P::Store { digits: 5 }),
    m("Shell", "SHELL OIL 5744", 5542, C::FuelPump, P::Glued { digits: 4 }),
    m("Chevron", "CHEVRON 00", 5542, C::FuelPump, P::Glued { digits: 5 }),
    m("ExxonMobil", "EXXONMOBIL", 5542, C::FuelPump, P::Store { digits: 4 }),
    m("BP", "BP#", 5542, C::FuelPump, P::Glued { digits: 7 }),
    m("Wawa", "WAWA", 5541, C::FuelStation, P::Store { digits: 4 }),
    m("Speedway", "SPEEDWAY 0", 5541, C::FuelStation, P::Glued { digits: 4 }),
    m("Olive Garden", "OLIVE GARDEN", 5812, C::FullService, P::Store { digits: 4 }),
    m("The Cheesecake Factory", "CHEESECAKE", 5812, C::FullService, P::Store { digits: 4 }),
    m("Applebee's", "APPLEBEES", 5812, C::FullService, P::Store { digits: 7 }),
    m("The Rusty Spoon", "THE RUSTY SPOON", 5812, C::FullService, P::Toast),
    m("Bella Napoli", "BELLA NAPOLI", 5812, C::FullService, P::Toast),
    m("Sakura Sushi", "SAKURA SUSHI", 5812, C::FullService, P::Toast),
    m("Harbor Fish House", "HARBOR FISH HOUS", 5812, C::FullService, P::Toast),
    m("Smokehouse BBQ", "SMOKEHOUSE BBQ", 5812, C::FullService, P::Local),
    m("McDonald's", "MCDONALD'S F", 5814, C::FastFood, P::Glued { digits: 5 }),
    m("Chipotle", "CHIPOTLE", 5814, C::FastFood, P::Store { digits: 4 }),
    m("Taco Bell", "TACO BELL #0", 5814, C::FastFood, P::Glued { digits: 5 }),
    m("Chick-fil-A", "CHICK-FIL-A", 5814, C::FastFood, P::Store { digits: 5 }),
    m("Subway", "SUBWAY", 5814, C::FastFood, P::Store { digits: 5 }),
    m("Pho 88", "PHO 88", 5814, C::FastFood, P::Square),
    m("Taco Loco", "TACO LOCO", 5814, C::FastFood, P::Square),
    m("Main St Deli", "MAIN ST DELI", 5814, C::FastFood, P::Toast),
    m("Starbucks", "STARBUCKS STORE ", 5814, C::Coffee, P::Glued { digits: 5 }),
    m("Dunkin'", "DUNKIN", 5814, C::Coffee, P::Store { digits: 6 }),
    m("Blue Bottle Coffee", "BLUE BOTTLE COF", 5814, C::Coffee, P::Square),
    m("The Daily Grind", "THE DAILY GRIND", 5814, C::Coffee, P::Square),
    m("Sunrise Cafe", "SUNRISE CAFE", 5814, C::Coffee, P::Square),
    m("Target", "TARGET T-", 5310, C::Shopping, P::Glued { digits: 4 }),
    m("Walgreens", "WALGREENS", 5912, C::Shopping, P::Store { digits: 5 }),
    m("CVS Pharmacy", "CVS/PHARMACY", 5912, C::Shopping, P::Store { digits: 5 }),
    m("The Home Depot", "THE HOME DEPOT", 5200, C::Shopping, P::Store { digits: 4 }),
    m("Lowe's", "LOWES", 5200, C::Shopping, P::Store { digits: 5 }),
    m("TJ Maxx", "TJMAXX", 5651, C::Shopping, P::Store { digits: 4 }),
    m("Old Navy", "OLD NAVY US", 5651, C::Shopping, P::Store { digits: 4 }),
    m("Costco", "COSTCO WHSE #", 5300, C::Shopping, P::Glued { digits: 4 }),
    m("Corner Bakery", "CORNER BAKERY", 5462, C::Shopping, P::Square),
    m("Farmers Market", "FARMERS MARKET", 5499, C::Shopping, P::Square),
    m("Amazon", "AMZN Mktp US*", 5942, C::Online, P::Amazon),
    m("Etsy", "ETSY, INC.", 5999, C::Online, P::Fixed),
    m("eBay", "EBAY O*", 5999, C::Online, P::Ticket),
    m("Chewy", "CHEWY.COM", 5995, C::Online, P::Fixed),
    m("Best Buy", "BEST BUY 0", 5732, C::Electronics, P::Glued { digits: 5 }),
    m("Apple", "APPLE.COM/US", 5732, C::Electronics, P::Fixed),
    m("Uber", "UBER *TRIP HELP.UBER.COM CA", 4121, C::Rideshare, P::Fixed),
    m("Lyft", "LYFT *RIDE", 4121, C::Rideshare, P::Ticket),
    m("DoorDash", "DOORDASH*DASHPASS", 5812, C::Delivery, P::Fixed),
    m("Uber Eats", "UBER *EATS HELP.UBER.COM CA", 5812, C::Delivery, P::Fixed),
    m("Delta Air Lines", "DELTA AIR", 3058, C::Airline, P::Ticket),
    m("United Airlines", "UNITED", 3000, C::Airline, P::Ticket),
    m("Southwest Airlines", "SOUTHWES", 3066, C::Airline, P::Ticket),
    m("Marriott", "MARRIOTT", 3509, C::Hotel, P::Local),
    m("Hilton", "HILTON HOTELS", 3504, C::Hotel, P::Local),
    m("Hertz", "HERTZ RENT-A-CAR", 3357, C::CarRental, P::Local),
    m("Enterprise", "ENTERPRISE RENT-A-CAR", 3405, C::CarRental, P::Local),
];

/// Indexes of the merchants of one class.
pub(crate) fn of_class(class: Class) -> impl Iterator<Item = usize> {
    MERCHANTS.iter().enumerate().filter(move |(_, m)| m.class == class).map(|(i, _)| i)
}

/// A monthly subscription: fixed amount, fixed day of month, billed card-not-present.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SubscriptionSpec {
    pub name: &'static str,
    pub descriptor: &'static str,
    pub mcc: u16,
    pub cents: i64,
}

const fn s(name: &'static str, descriptor: &'static str, mcc: u16, cents: i64) -> SubscriptionSpec {
    SubscriptionSpec { name, descriptor, mcc, cents }
}

pub(crate) const SUBSCRIPTIONS: &[SubscriptionSpec] = &[
    s("Netflix", "NETFLIX.COM", 4899, 1549),
    s("Hulu", "HULU 877-8244858 CA", 4899, 1799),
    s("Disney+", "DISNEY PLUS", 4899, 1399),
    s("Max", "MAX.COM", 4899, 1699),
    s("Spotify", "SPOTIFY USA", 5815, 1199),
    s("Apple Music", "APPLE.COM/BILL", 5818, 1099),
    s("iCloud", "APPLE.COM/BILL", 5818, 299),
    s("Google One", "GOOGLE *Google One", 5818, 299),
    s("Microsoft 365", "MICROSOFT*MICROSOFT 365", 5818, 999),
    s("Amazon Prime", "Amazon Prime*2K4LD", 5968, 1499),
    s("Planet Fitness", "PLANET FITNESS", 7997, 2499),
    s("Peloton", "PELOTON* MEMBERSHIP", 7997, 4400),
    s("YouTube Premium", "GOOGLE *YouTubePremium", 5815, 1399),
];

/// Platforms a card-not-present purchase can be made through (`Transaction::platform`). The bank's sharing policy
/// `refuse_offplatform_transactions` compares this with the platform of the requesting client.
pub const PLATFORMS: [&str; 3] = ["chatly", "shopstream", "rideon"];

/// Utility billers, by kind, with the regional electric and gas companies of the table's states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Utility {
    Electric,
    Gas,
    Water,
    Internet,
    Phone,
}

impl Utility {
    pub(crate) const ALL: [Utility; 5] = [Self::Electric, Self::Gas, Self::Water, Self::Internet, Self::Phone];

    /// Biller name for a customer in `region`; `choice` picks among national providers.
    pub(crate) fn biller(self, region: &str, choice: usize) -> &'static str {
        match self {
            Self::Electric => match region {
                "NY" => "CON ED OF NY",
                "IL" => "COMED",
                "CA" => "PGANDE WEB ONLINE",
                "FL" => "FPL DIRECT DEBIT",
                "TX" => "TXU ENERGY",
                _ => "DUKE ENERGY",
            },
            Self::Gas => match region {
                "NY" => "NATIONAL GRID NY",
                "IL" => "NICOR GAS",
                "CA" => "SOCALGAS",
                "FL" => "TECO PEOPLES GAS",
                _ => "ATMOS ENERGY",
            },
            Self::Water => ["CITY WATER UTIL", "AMERICAN WATER", "WATER DEPT"][choice % 3],
            Self::Internet => ["COMCAST XFINITY", "SPECTRUM", "VERIZON FIOS", "AT&T INTERNET"][choice % 4],
            Self::Phone => ["VERIZON WIRELESS", "T-MOBILE", "AT&T MOBILITY"][choice % 3],
        }
    }

    /// Typical monthly bill (dollars) and month-to-month variation (relative).
    pub(crate) fn typical(self) -> (f64, f64) {
        match self {
            Self::Electric => (125.0, 0.18),
            Self::Gas => (65.0, 0.25),
            Self::Water => (55.0, 0.12),
            Self::Internet => (75.0, 0.03),
            Self::Phone => (95.0, 0.05),
        }
    }

    /// Seasonal factor for a month (1-12): electricity peaks in summer, gas in winter.
    pub(crate) fn seasonal(self, month: u8) -> f64 {
        const SUMMER: [f64; 12] = [1.0, 0.95, 0.85, 0.8, 0.9, 1.15, 1.35, 1.35, 1.1, 0.85, 0.85, 1.0];
        const WINTER: [f64; 12] = [1.7, 1.6, 1.3, 0.9, 0.6, 0.45, 0.4, 0.4, 0.5, 0.8, 1.2, 1.6];
        let i = usize::from(month.clamp(1, 12) - 1);
        match self {
            Self::Electric => SUMMER[i],
            Self::Gas => WINTER[i],
            _ => 1.0,
        }
    }

    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Electric => "ELECTRIC",
            Self::Gas => "GAS",
            Self::Water => "WATER",
            Self::Internet => "INTERNET",
            Self::Phone => "WIRELESS",
        }
    }
}

/// Employer name parts (a fake surname is put in front of a sector word for variety).
pub(crate) const EMPLOYER_SECTORS: &[&str] = &[
    "LOGISTICS",
    "HEALTH SYSTEM",
    "MANUFACTURING",
    "CONSTRUCTION",
    "FOODS INC",
    "TECHNOLOGIES",
    "INSURANCE CO",
    "MEDICAL GROUP",
    "RETAIL GROUP",
    "ENGINEERING",
    "UNIVERSITY",
    "SCHOOL DIST",
    "HOSPITALITY",
    "AUTOMOTIVE",
];

/// Well-known employers that print their own name.
pub(crate) const BIG_EMPLOYERS: &[&str] = &[
    "WALMART INC",
    "AMAZON.COM SVCS",
    "TARGET CORP",
    "UPS",
    "KAISER PERMANENTE",
    "HOME DEPOT",
    "STATE OF",
    "FEDEX",
    "CVS HEALTH",
    "STARBUCKS CORP",
];
