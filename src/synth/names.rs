//! Embedded name lists for the synthetic population.
//!
//! Surnames are common in England and Wales, in descending order of frequency; each gets a
//! Zipf-like weight `1 / rank^0.85`, which reproduces the observed skew (the commonest surname
//! held by about 1 in 80 people, the top 20 by about 1 in 10). A long tail of rarer surnames is
//! built from common English place-name elements (`Ash` + `worth` …), each with a small weight,
//! so that roughly a third of people carry a surname outside the listed ones, as in real data.
//!
//! Given names are common in England and Wales across the birth cohorts of the living
//! population, by sex, with the same Zipf weighting; a few carry accents that the tokeniser must
//! fold. Nicknames map formal given names to the short forms clinicians and receptionists record.

/// Surnames, commonest first.
pub const SURNAMES: &[&str] = &[
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson", "Roberts",
    "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall", "Lewis", "Harris",
    "Clarke", "Patel", "Jackson", "Wood", "Turner", "Martin", "Cooper", "Hill", "Ward", "Morris", "Moore", "Clark",
    "Lee", "King", "Baker", "Harrison", "Morgan", "Allen", "James", "Scott", "Phillips", "Watson", "Davis", "Parker",
    "Price", "Bennett", "Young", "Griffiths", "Mitchell", "Kelly", "Cook", "Carter", "Richardson", "Bailey",
    "Collins", "Bell", "Shaw", "Murphy", "Miller", "Cox", "Richards", "Khan", "Marshall", "Anderson", "Simpson",
    "Ellis", "Adams", "Singh", "Begum", "Wilkinson", "Foster", "Chapman", "Powell", "Webb", "Rogers", "Gray",
    "Mason", "Ali", "Hunt", "Hussain", "Campbell", "Matthews", "Owen", "Palmer", "Holmes", "Mills", "Barnes",
    "Knight", "Lloyd", "Butler", "Russell", "Barker", "Fisher", "Stevens", "Jenkins", "Murray", "Dixon", "Harvey",
    "Graham", "Pearson", "Ahmed", "Fletcher", "Walsh", "Kaur", "Gibson", "Howard", "Andrews", "Stewart", "Elliott",
    "Reynolds", "Saunders", "Payne", "Fox", "Ford", "Pearce", "Day", "Brooks", "West", "Lawrence", "Cole",
    "Atkinson", "Bradley", "Spencer", "Gill", "Dawson", "Ball", "Burton", "O'Brien", "Watts", "Rose", "Booth",
    "Perry", "Ryan", "Grant", "Wells", "Armstrong", "Francis", "Rees", "Hayes", "Hart", "Hudson", "Newman",
    "Barrett", "Webster", "Hunter", "Gregory", "Carr", "Lowe", "Page", "Marsh", "Riley", "Dunn", "Woods", "Parsons",
    "Berry", "Stone", "Reid", "Holland", "Hawkins", "Harding", "Porter", "Robertson", "Newton", "Oliver", "Reed",
    "Kennedy", "Williamson", "Bird", "Gardner", "Shah", "Dean", "Lane", "Cooke", "Bates", "Henderson", "Parry",
    "Burgess", "Bishop", "Walton", "Burns", "Nicholson", "Shepherd", "Ross", "Cross", "Long", "Freeman", "Warren",
    "Nicholls", "Hamilton", "Byrne", "Sutton", "McDonald", "Yates", "Hodgson", "Robson", "Curtis", "Hopkins",
    "O'Connor", "Harper", "Coleman", "Watkins", "Moss", "McCarthy", "Chambers", "O'Neill", "Griffin", "Sharp",
    "Hardy", "Wheeler", "Potter", "Osborne", "Johnston", "Gordon", "Doyle", "Wallace", "George", "Jordan",
    "Hutchinson", "Rowe", "Burke", "May", "Pritchard", "Gilbert", "Willis", "Higgins", "Read", "Miles",
    "Stevenson", "Stephenson", "Hammond", "Arnold", "Buckley", "Walters", "Hewitt", "Barber", "Nelson", "Slater",
    "Austin", "Sullivan", "Whitehead", "Mann", "Frost", "Lambert", "Stephens", "Blake", "Akhtar", "Lynch",
    "Goodwin", "Barton", "Woodward", "Thomson", "Cunningham", "Quinn", "Barnett", "Baxter", "Bibi", "Clayton",
    "Nash", "Greenwood", "Jennings", "Holt", "Kemp", "Poole", "Gallagher", "Bond", "Stokes", "Tucker", "Davidson",
    "Fowler", "Heath", "Norman", "Middleton", "Lawson", "Banks", "French", "Stanley", "Jarvis", "Gibbs",
    "Ferguson", "Hayward", "Carroll", "Douglas", "Dickinson", "Todd", "Barlow", "Peters", "Lucas", "Knowles",
    "Hartley", "Miah", "Simmons", "Morton", "Alexander", "Field", "Morrison", "Norris", "Townsend", "Preston",
    "Hancock", "Thornton", "Baldwin", "Burrows", "Briggs", "Storey", "Pugh", "Jacobs", "Smith-Jones", "Nowak",
    "Kowalski", "Wiśniewski", "Mensah", "Okafor", "Nguyen", "Chen", "Wong", "Rahman", "Islam", "Uddin", "Choudhury",
    "Mahmood", "Iqbal", "Sharma", "Kumar", "Da Silva", "Santos", "Ferreira", "MacLeod", "Fitzgerald", "Ó Briain",
];

/// Place-name heads for the rare-surname tail.
pub const TAIL_HEADS: &[&str] = &[
    "Ash", "Brad", "Brom", "Bur", "Cal", "Chad", "Crom", "Dal", "Dun", "Elling", "Fair", "Farn", "Gold", "Green",
    "Hal", "Hart", "Hay", "Hol", "Kings", "Lang", "Lin", "Mar", "Mid", "New", "North", "Oak", "Pen", "Rad", "Red",
    "Rush", "Sal", "Shel", "South", "Stan", "Stock", "Thorn", "Wal", "West", "Whit", "Wind", "Wood", "Wor",
];

/// Place-name tails for the rare-surname tail.
pub const TAIL_ENDS: &[&str] = &[
    "worth", "ley", "ton", "field", "ford", "by", "ham", "well", "wood", "croft", "stone", "bridge", "combe",
    "hurst", "more", "shaw", "thorpe", "wick", "dale", "brook",
];

/// Female given names, commonest first.
pub const FEMALE: &[&str] = &[
    "Margaret", "Susan", "Sarah", "Elizabeth", "Patricia", "Mary", "Jennifer", "Karen", "Helen", "Emma", "Julie",
    "Catherine", "Claire", "Nicola", "Amanda", "Rebecca", "Laura", "Jessica", "Emily", "Olivia", "Sophie",
    "Charlotte", "Hannah", "Lucy", "Amelia", "Chloe", "Ellie", "Grace", "Jane", "Joan", "Dorothy", "Barbara",
    "Christine", "Linda", "Deborah", "Victoria", "Samantha", "Rachel", "Louise", "Michelle", "Alison", "Angela",
    "Lisa", "Jacqueline", "Gillian", "Pauline", "Sandra", "Carol", "Ann", "Anne", "Kathleen", "Eileen", "Irene",
    "Betty", "Joyce", "Sheila", "Valerie", "Brenda", "Doreen", "Jean", "Isla", "Ava", "Mia", "Isabella", "Poppy",
    "Freya", "Lily", "Evie", "Ruby", "Florence", "Abigail", "Eleanor", "Katherine", "Alexandra", "Natalie",
    "Zoë", "Siân", "Rhiannon", "Niamh", "Aoife", "Fatima", "Aisha", "Amira", "Priya", "Mary-Jane", "Anne-Marie",
];

/// Male given names, commonest first.
pub const MALE: &[&str] = &[
    "David", "John", "Paul", "Michael", "Andrew", "James", "Peter", "Robert", "Mark", "Richard", "Stephen",
    "Christopher", "William", "Thomas", "Daniel", "Matthew", "Anthony", "Steven", "Ian", "Simon", "Jonathan",
    "Kevin", "Gary", "Martin", "Alan", "Brian", "Graham", "Philip", "Neil", "Stuart", "Lee", "Craig", "Adam",
    "Benjamin", "Samuel", "Joseph", "Oliver", "Jack", "Harry", "George", "Noah", "Charlie", "Jacob", "Alfie",
    "Freddie", "Oscar", "Leo", "Arthur", "Henry", "Edward", "Alexander", "Nicholas", "Timothy", "Kenneth",
    "Raymond", "Ronald", "Derek", "Keith", "Terence", "Frederick", "Albert", "Ernest", "Harold", "Dennis",
    "Roy", "Leonard", "Stanley", "Ryan", "Liam", "Connor", "Callum", "Kieran", "Nathan", "Luke", "Joshua",
    "Dylan", "Owen", "Rhys", "Gareth", "Dafydd", "Seán", "Mohammed", "Muhammad", "Ahmed", "Ali", "Arjun", "Jean-Paul",
];

/// Formal given names and the short forms recorded instead.
pub const NICKNAMES: &[(&str, &[&str])] = &[
    ("William", &["Bill", "Will", "Billy"]),
    ("Robert", &["Bob", "Rob", "Bobby"]),
    ("Richard", &["Dick", "Rich", "Ricky"]),
    ("James", &["Jim", "Jimmy", "Jamie"]),
    ("John", &["Jack", "Johnny"]),
    ("Thomas", &["Tom", "Tommy"]),
    ("Michael", &["Mike", "Mick"]),
    ("Christopher", &["Chris"]),
    ("Edward", &["Ted", "Ed", "Eddie"]),
    ("Anthony", &["Tony"]),
    ("Joseph", &["Joe"]),
    ("Samuel", &["Sam"]),
    ("Benjamin", &["Ben"]),
    ("Jonathan", &["Jon"]),
    ("Nicholas", &["Nick"]),
    ("Stephen", &["Steve"]),
    ("Steven", &["Steve"]),
    ("Peter", &["Pete"]),
    ("David", &["Dave"]),
    ("Andrew", &["Andy", "Drew"]),
    ("Charlie", &["Charles"]),
    ("Henry", &["Harry", "Hal"]),
    ("Alexander", &["Alex", "Sandy"]),
    ("Daniel", &["Dan", "Danny"]),
    ("Matthew", &["Matt"]),
    ("Frederick", &["Fred", "Freddie"]),
    ("Kenneth", &["Ken", "Kenny"]),
    ("Timothy", &["Tim"]),
    ("Philip", &["Phil"]),
    ("Terence", &["Terry"]),
    ("Ronald", &["Ron", "Ronnie"]),
    ("Leonard", &["Len", "Lenny"]),
    ("Albert", &["Bert", "Albie"]),
    ("Margaret", &["Peggy", "Maggie", "Meg"]),
    ("Elizabeth", &["Liz", "Beth", "Betty", "Lizzie"]),
    ("Catherine", &["Kate", "Cathy", "Cath"]),
    ("Katherine", &["Kate", "Kathy", "Katie"]),
    ("Patricia", &["Pat", "Trish"]),
    ("Jennifer", &["Jen", "Jenny"]),
    ("Susan", &["Sue", "Susie"]),
    ("Deborah", &["Debbie", "Deb"]),
    ("Rebecca", &["Becky", "Becca"]),
    ("Victoria", &["Vicky", "Tori"]),
    ("Samantha", &["Sam", "Sammy"]),
    ("Jessica", &["Jess"]),
    ("Eleanor", &["Ellie", "Nell"]),
    ("Abigail", &["Abbie", "Abby"]),
    ("Christine", &["Chris", "Chrissie"]),
    ("Dorothy", &["Dot", "Dottie"]),
    ("Barbara", &["Babs", "Barbie"]),
    ("Alexandra", &["Alex", "Lexi"]),
    ("Jacqueline", &["Jackie"]),
    ("Pauline", &["Polly"]),
    ("Kathleen", &["Kath", "Kathy"]),
    ("Valerie", &["Val"]),
    ("Natalie", &["Nat"]),
    ("Isabella", &["Bella", "Izzy"]),
    ("Florence", &["Flo", "Florrie"]),
];

/// UK postcode areas for the synthetic region (West Yorkshire and neighbours).
pub const AREAS: &[(&str, u8)] = &[("LS", 29), ("BD", 24), ("HX", 7), ("HD", 9), ("WF", 17), ("HG", 5), ("YO", 26)];
