"""The words of the synthetic source: cities, names, ad texts and indicator phrasing.

Generated, non-explicit text only; every phone slot is filled with a fictional 555-01XX
number by `connectors.synthetic`. Youth and minor wording is deliberately absent (the
labeled evaluation set covers those indicators); see docs/connectors.md.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    """A US city with its real area codes."""

    name: str
    state: str
    area_codes: tuple[str, ...]

    @property
    def slug(self) -> str:
        """URL path segment."""
        return self.name.lower().replace(" ", "-")


CITIES = [
    City(name, state, tuple(codes.split()))
    for name, state, codes in (
        ("Los Angeles", "CA", "213 323"), ("New York", "NY", "212 646"),
        ("Chicago", "IL", "312 773"), ("Houston", "TX", "713 832"),
        ("Phoenix", "AZ", "602 480"), ("Philadelphia", "PA", "215 267"),
        ("San Antonio", "TX", "210"), ("San Diego", "CA", "619 858"),
        ("Dallas", "TX", "214 469"), ("San Jose", "CA", "408"),
        ("Austin", "TX", "512 737"), ("Jacksonville", "FL", "904"),
        ("Columbus", "OH", "614"), ("Charlotte", "NC", "704 980"),
        ("Seattle", "WA", "206"), ("Denver", "CO", "303 720"),
        ("Boston", "MA", "617"), ("Las Vegas", "NV", "702"),
        ("Miami", "FL", "305 786"), ("Atlanta", "GA", "404 678"),
        ("Nashville", "TN", "615"), ("Portland", "OR", "503"),
    )
]  # fmt: skip
CITY_BY_NAME = {c.name: c for c in CITIES}
NAMES = ["Mia", "Jade", "Luna", "Aria", "Nina", "Sofia", "Kira", "Bella", "Eva", "Lily", "Ivy",
         "Ruby", "Chloe", "Maya", "Zoe", "Nora", "Stella", "Vera", "Daisy", "Gia"]  # fmt: skip
DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]


# {name} {age} {city} {phone} {n} {k} are filled in; every closer has a word before {phone}.
# category -> (titles, openers, sentences): an ad takes one opener and two sentences
COMPANION = {
    "companionship": (
        ["Friendly companion for dinner and date night", "Sweet conversation and a fun night out",
         "Upscale companion for events and evenings out", "Your plus one for the weekend",
         "Dinner, drinks and great conversation", "Charming company for a night on the town",
         "Elegant date for your next event", "Let's make it a memorable evening"],
        ["Hi there, I'm {name}, {age}, easygoing and friendly.", "Hello gentlemen, {name} here.",
         "Looking for someone to join you for dinner? I'm {name}, {age}.",
         "Hello, {name} here, {age}, sweet and fun to be around.",
         "My name is {name} and I love a good night out.", "Hey, it's {name}, {age}."],
        ["I love good food, live music and great conversation.",
         "Fan of jazz bars, rooftop views and long dinners.",
         "Happy to join you for a gallery opening, a concert or a quiet drink.",
         "Dressed to impress for any occasion.", "Great listener with a warm smile.",
         "Dinner first, then maybe a show or a walk downtown.",
         "Weekday evenings and weekend afternoons.", "Classy, discreet and on time.",
         "Real photos, relaxed atmosphere.", "Perfect plus one for weddings and work parties.",
         "Museums, wine bars and good coffee are my favorite things.",
         "Polite gentlemen preferred.", "Well read, well traveled and quick to laugh.",
         "Let's talk books, movies and where to eat next."],
    ),
    "massage": (
        ["Relaxing massage after a long week", "Therapeutic massage, professional and discreet",
         "Spa day special: swedish and deep tissue", "Unwind with a full hour of massage",
         "Hot stone massage, calm private studio", "Melt the stress away"],
        ["Licensed therapist, I'm {name}.", "Hi, I'm {name}, {age}, a certified therapist.",
         "{name} here, your neighborhood massage therapist.",
         "Treat yourself to an hour of pure relaxation with {name}.",
         "Sore back from work? I'm {name}, {age}, and I can help."],
        ["Swedish, deep tissue and hot stone.", "Calm, clean studio with soft music.",
         "Sixty or ninety minute sessions.", "Hot towels and aromatherapy included.",
         "Perfect after a long week at work or at the gym.", "Free parking by the studio.",
         "Gift cards available.", "Quiet, private and relaxing.",
         "Stiff neck or tight shoulders? Book a session.", "Tea and a warm robe after.",
         "Clean linens for every guest.", "Gentle or firm pressure, your choice."],
    ),
}  # fmt: skip
PERSONA_OPENERS = ["Hi there, I'm {name}, {age}, easygoing and friendly.",
                   "Hello, {name} here, {age}, sweet and fun to be around."]  # fmt: skip
CLOSERS = ["Text {phone}.", "Call {phone} to book.", "Appointments in {city}, text me at {phone}.",
           "Reach me at {phone}, texts preferred.", "Serious inquiries only, call {phone}.",
           "Texts only please: {phone}.", "Book your time at {phone}.",
           "Message me at {phone} to set a date."]  # fmt: skip
INDICATORS: dict[str, list[str]] = {
    "movement": ["New in town!", "Just arrived in {city}, here until {day} only.",
                 "Leaving soon, last few days in {city}.", "Passing through {city} this week ✈️"],
    "third_party": ["Ask for {name}.", "My manager handles all bookings.",
                    "Text my assistant to set up a time."],
    "multiple_persons": ["Two friends available together.", "Duo available, 2 ladies together.",
                         "Three ladies on shift tonight."],
    "hotel_incall": ["Hotel incall near the airport.", "Incall at my hotel suite downtown.",
                     "At the motel by exit {k}, text for the room number."],
    "law_enforcement_evasion": ["No LE.", "Absolutely no law enforcement.", "No cops, no games."],
    "coded_pricing": ["{n} roses per hour 🌹", "Donations: {n} per hour.",
                      "{n} roses for the hour."],
    "always_available": ["Available 24/7.", "Open 24/7, call anytime.",
                         "Day or night, available around the clock."],
    "youth_language": ["💗🍭", "🍒💗", "🍭"],
}  # fmt: skip
NEGATED: dict[str, list[str]] = {
    "movement": ["Not new in town, a {city} local.", "Not passing through, I live in {city}."],
    "hotel_incall": ["No hotels, outcall to your home only.", "No motels, private studio only."],
    "stated_age_young": ["18+ only.", "Must be 18+ to respond."],
    "third_party": ["No agency and no manager, I book for myself."],
    "multiple_persons": ["Just me, one on one, never a duo."],
    "always_available": ["By appointment only, not 24/7."],
}  # fmt: skip
# (title, body, indicator ids); the ring fills {name} and {n} once for all its members
RING_TEMPLATES = [
    ("Sweet and classy company tonight",
     "Sweet, classy and fun company for your evening. New in town, ask for {name}. "
     "Upscale gentlemen only, text {phone}.", ["movement", "third_party"]),
    ("Relax and unwind, spa special",
     "Stressed out? Relax and unwind with a full body massage in a private suite. "
     "Available 24/7, hotel incall. Call {phone}.", ["always_available", "hotel_incall"]),
    ("Date night partner available",
     "Need a plus one for dinner or an event? Friendly, well dressed and on time. "
     "Donations: {n} per hour. Call {phone}.", ["coded_pricing"]),
    ("Two friends, one fun evening",
     "Two friends available together for dinner and dancing. Just arrived, leaving soon. "
     "No LE. Text {phone}.", ["law_enforcement_evasion", "movement", "multiple_persons"]),
    ("Visiting this week only",
     "Here for a few days on my tour ✈️ ask for {name}. Clean, quiet and discreet. "
     "Text {phone}.", ["movement", "third_party"]),
]  # fmt: skip
# category -> (titles, sentences): an ad takes two to four sentences and a closer
ORDINARY = {
    "furniture": (
        ["Solid oak dining table with {k} chairs - ${cost}",
         "Gray sectional sofa, like new - ${cost}", "Vintage dresser with {k} drawers - ${cost}",
         "Queen bed frame and mattress - ${cost}"],
        ["Moving sale, everything must go.", "Great shape, a few light scratches.",
         "Pet free, smoke free home.", "Pickup only, ground floor.", "Can help you load it.",
         "Cash or card accepted.", "Bought last year, hardly used.", "Must go this weekend.",
         "Measurements in the photos.", "Matching rug available too.", "Priced to sell."],
    ),
    "jobs": (
        ["Hiring line cooks, full time, ${wage}/hr", "Warehouse associates needed - ${wage}/hr",
         "Hotel front desk position open, ${wage}/hr", "Delivery drivers wanted, ${wage}/hr"],
        ["Weekends required.", "Day and night shifts.", "Forklift experience a plus.",
         "Paid training and weekly pay.", "Apply in person at our {city} location.",
         "Friendly team, growing company.", "Health benefits after {k} months.",
         "Clean driving record needed.", "No experience needed, we train.",
         "Free meals on shift.", "Start as soon as next week."],
    ),
    "bakery": (
        ["Custom birthday cakes and cupcakes", "Sourdough and pastries at the farmers market",
         "Wedding cakes, tastings by appointment"],
        ["Taking orders for birthdays and weddings.", "{k} flavors of cupcakes.",
         "Fresh produce at the farmers market on Saturday.", "Gluten free options.",
         "Order a week ahead for big cakes.", "Delivery anywhere in {city}.",
         "Cookie boxes for the holidays.", "Baked fresh the morning you pick up.",
         "Tastings on Fridays.", "Licensed cottage kitchen."],
    ),
    "tutoring": (
        ["Math and physics tutor, evenings and weekends", "Piano lessons for all levels",
         "Spanish conversation classes", "SAT and ACT prep, small groups"],
        ["Certified teacher with {k} years of experience.", "Algebra, calculus and physics.",
         "First session free.", "Lessons at your home or at my studio in {city}.",
         "Online sessions too.", "Flexible schedule, evenings and weekends.",
         "Practice tests and study plans.", "Adults welcome too.",
         "Homework help for all grades.", "Progress notes after every lesson."],
    ),
    "cars": (
        ["20{yy} Honda Civic LX, {miles}k miles - ${price}", "20{yy} Ford F-150 XLT 4x4 - ${price}",
         "20{yy} Toyota Camry SE, {miles}k miles - ${price}"],
        ["Clean title.", "New tires and brakes.", "Service records available.", "No lowballers.",
         "One owner, garage kept.", "Runs great, towing package.", "Cold AC, no warning lights.",
         "Oil changed last month.", "Small dent on the rear bumper.", "Test drives on weekends.",
         "Bluetooth and backup camera."],
    ),
    "rentals": (
        ["Sunny 1BR apartment near downtown - ${rent}/mo",
         "Room for rent in quiet house - ${rent}/mo", "2BR townhouse with garage - ${rent}/mo"],
        ["Hardwood floors.", "Laundry in building.", "Close to transit.", "Available now.",
         "Utilities included.", "Month to month lease.", "No smoking please.",
         "Shared kitchen and backyard.", "Cats welcome, sorry no dogs.",
         "First month and deposit to move in.", "Street parking only.", "Quiet neighbors."],
    ),
    "services": (
        ["Lawn mowing and yard cleanup", "Handyman: drywall, paint, small repairs",
         "House cleaning, weekly or monthly"],
        ["Free estimates.", "Reliable weekly service anywhere in {city}.",
         "Licensed and insured.", "Senior discounts.", "Same week appointments.",
         "References on request.", "We bring our own supplies.", "Family owned since 2009.",
         "Gutter cleaning too.", "Weekend slots open."],
    ),
}  # fmt: skip
PLACES = ["Near {street}.", "Off {street}, {city}.", "By the {street} bus stop.",
          "{city}, close to {street}."]  # fmt: skip
STREETS = ["Maple Ave", "Oak Street", "Main Street", "5th Ave", "Elm Street", "Park Blvd",
           "Lincoln Way", "Cedar Lane", "Washington St", "Lakeview Dr", "Hillcrest Rd",
           "Pine Street", "Broadway", "Jefferson Ave", "River Road", "Sunset Blvd"]  # fmt: skip
ORDINARY_CLOSERS = ["Text {phone}.", "Call {phone}.", "Call or text {phone}.",
                    "Questions? Call {phone}.", "Text {phone} for details."]  # fmt: skip
