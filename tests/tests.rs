#[test]
fn show() {
    let p = pseudolink::encode::phonetic::Phonetic::default();
    for n in [
        "THOMPSON",
        "TOMSON",
        "THOMSON",
        "CATHERINE",
        "KATHRYN",
        "STEPHEN",
        "STEVEN",
        "SMITH",
        "SMYTH",
        "SCHMIDT",
        "JON",
        "JOHN",
        "MACDONALD",
        "MCDONALD",
        "OBRIEN",
        "BRYAN",
        "ELIZABETH",
        "ELISABETH",
    ] {
        eprintln!("{n} {}", p.code(n));
    }
}
