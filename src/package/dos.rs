//! DOS dates and times, as zip entries and cabinet files record them: a
//! date and a time field of 16 bits each, 1980 to 2107 in two-second steps.

use time::PrimitiveDateTime;

/// A time as a DOS (date, time) pair: 1980 to 2107, in two-second steps,
/// an odd second rounded up (as Info-ZIP and the `cab` crate round, so a
/// file gets one time in a zip and in a cabinet); `None` is 1980-01-01
/// 00:00:00, the time of every entry unless `--keep-times`.
pub(crate) fn dos_time(t: Option<PrimitiveDateTime>) -> (u16, u16) {
    let Some(t) = t else {
        return (0x21, 0);
    };
    let t = match t.second() % 2 {
        1 => t.saturating_add(time::Duration::SECOND),
        _ => t,
    };
    match t.year() {
        ..1980 => (0x21, 0),
        2108.. => (0xFF9F, 0xBF7D),
        year => {
            let date = ((year - 1980) as u16) << 9
                | u16::from(u8::from(t.month())) << 5
                | u16::from(t.day());
            let time =
                u16::from(t.hour()) << 11 | u16::from(t.minute()) << 5 | u16::from(t.second() / 2);
            (date, time)
        }
    }
}

/// A DOS (date, time) pair as a time, when it is a valid one.
pub(crate) fn from_dos((date, time): (u16, u16)) -> Option<PrimitiveDateTime> {
    let month = time::Month::try_from(((date >> 5) & 0xF) as u8).ok()?;
    let day =
        time::Date::from_calendar_date(1980 + i32::from(date >> 9), month, (date & 0x1F) as u8)
            .ok()?;
    let clock = time::Time::from_hms(
        (time >> 11) as u8,
        ((time >> 5) & 0x3F) as u8,
        2 * (time & 0x1F) as u8,
    )
    .ok()?;
    Some(PrimitiveDateTime::new(day, clock))
}
