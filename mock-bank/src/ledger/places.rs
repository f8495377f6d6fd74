//! A small embedded gazetteer: real US cities with their state, a telephone area code and a ZIP prefix, so that
//! addresses, phone numbers and merchant descriptors ("SAFEWAY #1234 SAN FRANCISCO CA") agree with each other.
//! Data only; no behaviour beyond lookups.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct City {
    pub name: &'static str,
    /// As printed at the end of card descriptors (upper case, at most 13 characters).
    pub descriptor: &'static str,
    pub region: &'static str,
    pub area_code: u16,
    pub zip3: u16,
}

const fn city(name: &'static str, descriptor: &'static str, region: &'static str, area_code: u16, zip3: u16) -> City {
    City { name, descriptor, region, area_code, zip3 }
}

pub(crate) const CITIES: &[City] = &[
    city("New York", "NEW YORK", "NY", 212, 100),
    city("Brooklyn", "BROOKLYN", "NY", 718, 112),
    city("Buffalo", "BUFFALO", "NY", 716, 142),
    city("Rochester", "ROCHESTER", "NY", 585, 146),
    city("Yonkers", "YONKERS", "NY", 914, 107),
    city("Albany", "ALBANY", "NY", 518, 122),
    city("Syracuse", "SYRACUSE", "NY", 315, 132),
    city("Chicago", "CHICAGO", "IL", 312, 606),
    city("Naperville", "NAPERVILLE", "IL", 630, 605),
    city("Aurora", "AURORA", "IL", 630, 605),
    city("Joliet", "JOLIET", "IL", 815, 604),
    city("Rockford", "ROCKFORD", "IL", 815, 611),
    city("Springfield", "SPRINGFIELD", "IL", 217, 627),
    city("Evanston", "EVANSTON", "IL", 847, 602),
    city("Los Angeles", "LOS ANGELES", "CA", 213, 900),
    city("San Francisco", "SAN FRANCISCO", "CA", 415, 941),
    city("San Diego", "SAN DIEGO", "CA", 619, 921),
    city("San Jose", "SAN JOSE", "CA", 408, 951),
    city("Sacramento", "SACRAMENTO", "CA", 916, 958),
    city("Oakland", "OAKLAND", "CA", 510, 946),
    city("Fresno", "FRESNO", "CA", 559, 937),
    city("Miami", "MIAMI", "FL", 305, 331),
    city("Orlando", "ORLANDO", "FL", 407, 328),
    city("Tampa", "TAMPA", "FL", 813, 336),
    city("Jacksonville", "JACKSONVILLE", "FL", 904, 322),
    city("Tallahassee", "TALLAHASSEE", "FL", 850, 323),
    city("Fort Lauderdale", "FT LAUDERDALE", "FL", 954, 333),
    city("St. Petersburg", "ST PETERSBURG", "FL", 727, 337),
    city("Houston", "HOUSTON", "TX", 713, 770),
    city("Austin", "AUSTIN", "TX", 512, 787),
    city("Dallas", "DALLAS", "TX", 214, 752),
    city("Seattle", "SEATTLE", "WA", 206, 981),
    city("Atlanta", "ATLANTA", "GA", 404, 303),
    city("Phoenix", "PHOENIX", "AZ", 602, 850),
    city("Newark", "NEWARK", "NJ", 973, 71),
    city("Philadelphia", "PHILADELPHIA", "PA", 215, 191),
    city("Boston", "BOSTON", "MA", 617, 21),
    city("Denver", "DENVER", "CO", 303, 802),
    city("Columbus", "COLUMBUS", "OH", 614, 432),
    city("Las Vegas", "LAS VEGAS", "NV", 702, 891),
];

/// Cities of one state (empty when the table has none).
pub(crate) fn cities_in(region: &str) -> impl Iterator<Item = &'static City> + Clone + '_ {
    CITIES.iter().filter(move |c| c.region == region)
}

/// Travel destinations (any city of the table).
pub(crate) fn any_city(n: usize) -> &'static City {
    &CITIES[n % CITIES.len()]
}
