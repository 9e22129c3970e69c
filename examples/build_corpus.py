# ruff: noqa: E501  (template sentences read best whole, one per line)
"""Write the demo corpus and its QA pairs: `python examples/build_corpus.py`.

Documents written for this project from templates, with fictional parties, amounts and
drugs, in the forms a team would really ingest: legal (leases, NDAs, service agreements,
employment contracts), finance (quarterly reports, treasury and credit policies, fund
factsheets) and medical (patient leaflets, clinical protocols, discharge guidelines), as
Markdown, text, HTML, PDF, DOCX and JSONL. Every QA row is built from the very sentence
that states its answer (its `evidence`), so every answer is right by construction.

Output (committed; rerunning with the same seed rewrites the same files):
    examples/corpus/<domain>/...          the documents (doc_id = the file name, or the
                                          record's doc_id in JSONL files)
    examples/qa/<domain>_train.jsonl      QA rows to train adapters on (80%)
    examples/qa/<domain>_test.jsonl       held-out QA rows to evaluate on (20%)
"""

from __future__ import annotations

import html
import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
QA_DIR = HERE / "qa"
SEED = 7
TEST_SHARE = 0.2

FIRST = [
    "Anna",
    "Bruno",
    "Clara",
    "Dario",
    "Elena",
    "Felix",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Katrin",
    "Luca",
    "Mira",
    "Noah",
    "Olga",
    "Pavel",
    "Rosa",
    "Stefan",
    "Tara",
    "Viktor",
]
LAST = [
    "Albers",
    "Brandt",
    "Castell",
    "Dorn",
    "Eklund",
    "Falk",
    "Gerber",
    "Hansen",
    "Imhof",
    "Jansen",
    "Keller",
    "Lindqvist",
    "Moser",
    "Nyberg",
    "Ostrowski",
    "Pauli",
    "Rieger",
    "Sommer",
    "Thaler",
    "Vogt",
]
STEMS = [
    "Northwind",
    "Kestrel",
    "Orbit",
    "Halcyon",
    "Bramble",
    "Cobalt",
    "Larkspur",
    "Meridian",
    "Quarry",
    "Saffron",
    "Tamarack",
    "Umber",
    "Verdant",
    "Wexford",
    "Yarrow",
    "Zephyr",
    "Aldous",
    "Brightwater",
    "Calder",
    "Dunmore",
    "Elmstead",
    "Fenwick",
    "Glenholm",
    "Harrow",
    "Ivel",
    "Juniper",
    "Kilbride",
    "Lowther",
    "Marlow",
    "Nettle",
    "Oakhurst",
    "Pellham",
    "Quenby",
    "Rosslyn",
    "Stourton",
    "Thistle",
    "Upwell",
    "Vantage",
    "Whitcombe",
    "Ashdown",
    "Birchley",
    "Corrin",
]
KINDS = [
    "Logistics",
    "Foods",
    "Systems",
    "Textiles",
    "Analytics",
    "Robotics",
    "Pharma",
    "Estates",
    "Media",
    "Energy",
    "Optics",
    "Retail",
]
FORMS = ["GmbH", "AG", "B.V.", "S.A.", "Ltd", "SE"]
CITIES = ["Zurich", "Vienna", "Rotterdam", "Lyon", "Geneva", "Hamburg", "Antwerp", "Basel"]
STREETS = [
    "Harbour Road",
    "Linden Allee",
    "Quai des Brumes",
    "Mill Lane",
    "Kanalstrasse",
    "Station Square",
    "Vineyard Row",
    "Orchard Street",
]
WORDS = {
    1: "one",
    2: "two",
    3: "three",
    4: "four",
    5: "five",
    6: "six",
    7: "seven",
    8: "eight",
    9: "nine",
    10: "ten",
    12: "twelve",
    14: "fourteen",
    15: "fifteen",
    18: "eighteen",
    20: "twenty",
    21: "twenty-one",
    24: "twenty-four",
    25: "twenty-five",
    28: "twenty-eight",
    30: "thirty",
    36: "thirty-six",
    45: "forty-five",
    48: "forty-eight",
    60: "sixty",
    72: "seventy-two",
    90: "ninety",
    120: "one hundred and twenty",
    180: "one hundred and eighty",
}


@dataclass
class Fact:
    """One question the document answers, in several phrasings, with its evidence."""

    questions: list[str]
    answers: list[str]
    evidence: str


@dataclass
class Doc:
    """A document: title, sections of sentences, and the facts its sentences state."""

    doc_id: str
    title: str
    sections: list[tuple[str, list[str]]] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)

    def section(self, heading: str, *sentences: str) -> None:
        self.sections.append((heading, list(sentences)))

    def fact(self, sentence: str, answers: list[str], *questions: str) -> str:
        """Record that `sentence` answers `questions`; return the sentence for a section."""
        assert all(a in sentence for a in answers[:1]), (answers, sentence)
        self.facts.append(Fact(list(questions), answers, sentence))
        return sentence


class Names:
    """Fictional, never repeated company and person names."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.stems = STEMS[:]
        rng.shuffle(self.stems)
        self.people: set[str] = set()

    def company(self) -> tuple[str, str]:
        """(full legal name, short name)."""
        stem = self.stems.pop()
        return f"{stem} {self.rng.choice(KINDS)} {self.rng.choice(FORMS)}", stem

    def person(self) -> str:
        while (name := f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}") in self.people:
            pass
        self.people.add(name)
        return name


def n_words(n: int) -> str:
    return f"{WORDS[n]} ({n})" if n in WORDS else str(n)


def money(amount: int) -> str:
    return f"EUR {amount:,}"


# --- legal -------------------------------------------------------------------------------


def lease(rng: random.Random, names: Names) -> Doc:
    landlord, lshort = names.company()
    tenant, tshort = names.company()
    city = rng.choice(CITIES)
    address = f"{rng.randint(2, 180)} {rng.choice(STREETS)}, {city}"
    years, rent = rng.choice([3, 5, 7, 10]), rng.randrange(48_000, 240_000, 1_200)
    deposit, notice = rng.choice([2, 3, 6]), rng.choice([60, 90, 120, 180])
    day, area = rng.choice([1, 5, 15]), rng.randrange(300, 2_500, 50)
    use = rng.choice(["office use", "light warehousing", "a retail shop", "a research laboratory"])
    doc = Doc(
        f"lease-{lshort.lower()}-{tshort.lower()}.md", f"Commercial lease: {lshort} and {tshort}"
    )
    name = f"the {lshort} lease"
    doc.section(
        "Parties and premises",
        f"This commercial lease is made between {landlord} (the Landlord) and {tenant} (the Tenant).",
        doc.fact(
            f"The Landlord lets to the Tenant the premises at {address}, with a floor area of {area} square metres.",
            [address],
            f"What is the address of the premises under {name}?",
            f"Where are the premises that {tshort} leases from {lshort}?",
        ),
        doc.fact(
            f"The premises may be used only for {use}.",
            [use],
            f"What may the premises under {name} be used for?",
            f"For what purpose may {tshort} use the leased premises?",
        ),
    )
    doc.section(
        "Term and rent",
        doc.fact(
            f"The lease runs for a fixed term of {n_words(years)} years from the commencement date.",
            [f"{n_words(years)} years", f"{years} years"],
            f"How long is the term of {name}?",
            f"For how many years does {tshort} lease the premises?",
        ),
        doc.fact(
            f"The annual base rent is {money(rent)}, payable in monthly instalments.",
            [money(rent)],
            f"What is the annual base rent under {name}?",
            f"How much rent does {tshort} pay per year?",
        ),
        doc.fact(
            f"Each instalment is due on day {day} of the calendar month.",
            [f"day {day}"],
            f"On which day of the month is rent due under {name}?",
            f"When in the month must {tshort} pay its rent instalment?",
        ),
    )
    doc.section(
        "Deposit and termination",
        doc.fact(
            f"The Tenant pays a security deposit equal to {n_words(deposit)} months' rent before moving in.",
            [f"{n_words(deposit)} months' rent", f"{deposit} months' rent"],
            f"How large is the security deposit under {name}?",
            f"What deposit must {tshort} pay?",
        ),
        doc.fact(
            f"Either party may terminate the lease by giving {n_words(notice)} days' written notice.",
            [f"{n_words(notice)} days' written notice", f"{notice} days"],
            f"How much notice is needed to terminate {name}?",
            f"What notice period applies if {tshort} wants to end its lease?",
        ),
        doc.fact(
            f"This lease is governed by the laws of {city}.",
            [city],
            f"Which law governs {name}?",
            f"Under which jurisdiction's laws is the {lshort}-{tshort} lease?",
        ),
    )
    return doc


def nda(rng: random.Random, names: Names) -> Doc:
    discloser, dshort = names.company()
    recipient, rshort = names.company()
    purpose = rng.choice(
        [
            "evaluating a joint venture",
            "a possible acquisition",
            "a supply tender",
            "a software integration project",
        ]
    )
    years, days = rng.choice([2, 3, 4, 5]), rng.choice([10, 14, 30])
    penalty, city = rng.randrange(25_000, 500_000, 5_000), rng.choice(CITIES)
    signer = names.person()
    doc = Doc(
        f"nda-{dshort.lower()}-{rshort.lower()}.txt",
        f"Mutual non-disclosure agreement: {dshort} and {rshort}",
    )
    name = f"the {dshort}-{rshort} NDA"
    doc.section(
        "Purpose",
        f"{discloser} and {recipient} enter into this non-disclosure agreement.",
        doc.fact(
            f"Confidential information is exchanged solely for the purpose of {purpose}.",
            [purpose],
            f"For what purpose is information exchanged under {name}?",
            f"Why do {dshort} and {rshort} share confidential information?",
        ),
    )
    doc.section(
        "Obligations",
        doc.fact(
            f"The confidentiality obligations survive for {n_words(years)} years after the agreement ends.",
            [f"{n_words(years)} years", f"{years} years"],
            f"How long do the confidentiality obligations of {name} survive?",
            f"For how many years must {rshort} keep {dshort}'s information secret after the NDA ends?",
        ),
        doc.fact(
            f"On request, all materials must be returned or destroyed within {n_words(days)} days.",
            [f"{n_words(days)} days", f"{days} days"],
            f"Within how many days must materials be returned under {name}?",
            f"How quickly must confidential materials be given back under {name}?",
        ),
        doc.fact(
            f"A breach triggers a contractual penalty of {money(penalty)} per incident.",
            [money(penalty)],
            f"What is the contractual penalty for a breach of {name}?",
            f"How much must a party pay per breach of {name}?",
        ),
    )
    doc.section(
        "Law and signature",
        doc.fact(
            f"This agreement is governed by the laws of {city}.",
            [city],
            f"Which law governs {name}?",
            f"What jurisdiction's law applies to {name}?",
        ),
        doc.fact(
            f"It was signed for {discloser} by {signer}.",
            [signer],
            f"Who signed {name} for {dshort}?",
            f"Which person signed on behalf of {dshort}?",
        ),
        "Any amendment must be made in writing and signed by both parties.",
    )
    return doc


def service_agreement(rng: random.Random, names: Names) -> Doc:
    provider, pshort = names.company()
    customer, cshort = names.company()
    service = rng.choice(
        ["cloud hosting", "payroll processing", "fleet telematics", "managed security monitoring"]
    )
    fee, uptime = rng.randrange(2_000, 40_000, 250), rng.choice(["99.5%", "99.9%", "99.95%"])
    response, term = rng.choice([1, 2, 4, 8]), rng.choice([12, 24, 36])
    notice, cap = rng.choice([30, 60, 90]), rng.choice([6, 12, 24])
    credit = rng.choice([5, 10, 15])
    doc = Doc(
        f"services-{pshort.lower()}-{cshort.lower()}.html",
        f"Master services agreement: {pshort} for {cshort}",
    )
    name = f"the {pshort} services agreement"
    doc.section(
        "Services",
        f"{provider} (the Provider) supplies services to {customer} (the Customer).",
        doc.fact(
            f"The Provider delivers {service} to the Customer.",
            [service],
            f"What service does {pshort} provide to {cshort}?",
            f"What does {name} cover?",
        ),
        doc.fact(
            f"The monthly service fee is {money(fee)}.",
            [money(fee)],
            f"What is the monthly fee under {name}?",
            f"How much does {cshort} pay {pshort} each month?",
        ),
    )
    doc.section(
        "Service levels",
        doc.fact(
            f"The Provider guarantees availability of {uptime} per calendar month.",
            [uptime],
            f"What availability does {name} guarantee?",
            f"What uptime has {pshort} committed to?",
        ),
        doc.fact(
            f"Critical incidents receive a response within {n_words(response)} hours.",
            [f"{n_words(response)} hours", f"{response} hours"],
            f"How fast must {pshort} respond to a critical incident?",
            f"What is the response time for critical incidents under {name}?",
        ),
        doc.fact(
            f"Each missed service level earns the Customer a credit of {credit}% of the monthly fee.",
            [f"{credit}%"],
            f"What service credit does {cshort} get for a missed service level?",
            f"How large is the service credit under {name}?",
        ),
    )
    doc.section(
        "Term, termination and liability",
        doc.fact(
            f"The initial term is {n_words(term)} months.",
            [f"{n_words(term)} months", f"{term} months"],
            f"How long is the initial term of {name}?",
            f"For how many months does {name} initially run?",
        ),
        doc.fact(
            f"The Customer may terminate for convenience on {n_words(notice)} days' notice.",
            [f"{n_words(notice)} days' notice", f"{notice} days"],
            f"How much notice must {cshort} give to terminate {name} for convenience?",
            f"What is the termination notice period under {name}?",
        ),
        doc.fact(
            f"Total liability is capped at {n_words(cap)} months of fees.",
            [f"{n_words(cap)} months of fees", f"{cap} months"],
            f"What is the liability cap in {name}?",
            f"How is {pshort}'s liability limited?",
        ),
    )
    return doc


def employment(rng: random.Random, names: Names, ext: str) -> Doc:
    employer, eshort = names.company()
    person = names.person()
    role = rng.choice(
        [
            "Senior Data Engineer",
            "Head of Procurement",
            "Clinical Project Manager",
            "Financial Controller",
            "Site Reliability Engineer",
            "Legal Counsel",
        ]
    )
    salary, probation = rng.randrange(62_000, 160_000, 1_000), rng.choice([3, 6])
    vacation, notice = rng.choice([25, 28, 30]), rng.choice([4, 8, 12])
    noncompete, start = (
        rng.choice([6, 12]),
        f"{rng.randint(1, 28)} {rng.choice(['March', 'June', 'September', 'January'])} 2026",
    )
    hours = rng.choice([38, 40, 42])
    surname = person.split()[1]
    doc = Doc(
        f"employment-{surname.lower()}-{eshort.lower()}.{ext}",
        f"Employment contract: {person}, {eshort}",
    )
    name = f"{person}'s employment contract"
    doc.section(
        "Position",
        f"{employer} (the Employer) employs {person} (the Employee).",
        doc.fact(
            f"The Employee is employed as {role}.",
            [role],
            f"What position does {person} hold at {eshort}?",
            f"In what role is {person} employed?",
        ),
        doc.fact(
            f"Employment starts on {start}.",
            [start],
            f"When does {person}'s employment start?",
            f"What is the start date in {name}?",
        ),
        doc.fact(
            f"Normal working time is {hours} hours per week.",
            [f"{hours} hours"],
            f"How many hours per week does {person} work?",
            f"What is the weekly working time in {name}?",
        ),
    )
    doc.section(
        "Pay and leave",
        doc.fact(
            f"The gross annual salary is {money(salary)}.",
            [money(salary)],
            f"What is {person}'s annual salary?",
            f"How much does {eshort} pay {person} per year?",
        ),
        doc.fact(
            f"The Employee is entitled to {vacation} days of paid vacation per year.",
            [f"{vacation} days"],
            f"How many vacation days does {person} get?",
            f"What is the annual leave in {name}?",
        ),
    )
    doc.section(
        "Probation, notice and restrictions",
        doc.fact(
            f"The first {n_words(probation)} months are a probation period.",
            [f"{n_words(probation)} months", f"{probation} months"],
            f"How long is {person}'s probation period?",
            f"What probation period applies in {name}?",
        ),
        doc.fact(
            f"After probation, either party may terminate with {n_words(notice)} weeks' notice.",
            [f"{n_words(notice)} weeks' notice", f"{notice} weeks"],
            f"What notice period applies after probation in {name}?",
            f"How much notice must {person} give to resign after probation?",
        ),
        doc.fact(
            f"A non-compete obligation applies for {n_words(noncompete)} months after employment ends.",
            [f"{n_words(noncompete)} months", f"{noncompete} months"],
            f"How long is {person}'s non-compete obligation?",
            f"For how long may {person} not compete with {eshort}?",
        ),
    )
    return doc


# --- finance -----------------------------------------------------------------------------


def quarterly(rng: random.Random, names: Names, ext: str) -> Doc:
    full, short = names.company()
    quarter = rng.choice(["Q1", "Q2", "Q3", "Q4"])
    revenue, growth = rng.randrange(40, 900), rng.choice([3.1, 4.8, 6.2, 7.5, 9.4, 11.0, 12.7])
    margin, net = rng.choice([8.5, 11.2, 14.0, 17.3, 21.6]), rng.randrange(3, 90)
    cash, headcount = rng.randrange(20, 400), rng.randrange(300, 9_000, 10)
    guidance = f"{rng.randrange(2, 8)}% to {rng.randrange(8, 14)}%"
    ceo = names.person()
    doc = Doc(
        f"{short.lower()}-{quarter.lower()}-2026-report.{ext}",
        f"{short}: {quarter} 2026 quarterly report",
    )
    name = f"{short}'s {quarter} 2026"
    doc.section(
        "Highlights",
        f"{full} reports its results for the {quarter} 2026 quarter.",
        doc.fact(
            f"Revenue for the quarter was EUR {revenue} million.",
            [f"EUR {revenue} million"],
            f"What was {short}'s revenue in {quarter} 2026?",
            f"How much revenue did {short} report for {quarter}?",
        ),
        doc.fact(
            f"Revenue grew {growth}% compared with the same quarter of last year.",
            [f"{growth}%"],
            f"By how much did {short}'s revenue grow year on year in {quarter} 2026?",
            f"What was the year-on-year revenue growth in {name} report?",
        ),
        doc.fact(
            f"The operating margin was {margin}%.",
            [f"{margin}%"],
            f"What operating margin did {short} achieve in {quarter} 2026?",
            f"What was the operating margin in {name} report?",
        ),
    )
    doc.section(
        "Financial position",
        doc.fact(
            f"Net income amounted to EUR {net} million.",
            [f"EUR {net} million"],
            f"What was {short}'s net income in {quarter} 2026?",
            f"How much net income did {short} earn in the quarter?",
        ),
        doc.fact(
            f"Cash and cash equivalents stood at EUR {cash} million at quarter end.",
            [f"EUR {cash} million"],
            f"How much cash did {short} hold at the end of {quarter} 2026?",
            f"What were {short}'s cash and cash equivalents at quarter end?",
        ),
        doc.fact(
            f"The company employed {headcount:,} people at the end of the quarter.",
            [f"{headcount:,}"],
            f"How many employees did {short} have at the end of {quarter} 2026?",
            f"What was {short}'s headcount?",
        ),
    )
    doc.section(
        "Outlook",
        doc.fact(
            f"For the full year, management expects revenue growth of {guidance}.",
            [guidance],
            f"What full-year revenue growth does {short} expect?",
            f"What is {short}'s revenue growth guidance for 2026?",
        ),
        doc.fact(
            f"The report is signed by the chief executive, {ceo}.",
            [ceo],
            f"Who is {short}'s chief executive?",
            f"Who signed {name} report?",
        ),
    )
    return doc


def treasury(rng: random.Random, names: Names) -> Doc:
    full, short = names.company()
    hedge, tenor = rng.choice([50, 60, 70, 75, 80]), rng.choice([12, 18, 24])
    buffer, rating = rng.randrange(10, 150, 5), rng.choice(["A-", "A", "BBB+"])
    limit, review = rng.choice([15, 20, 25]), rng.choice(["quarterly", "semi-annually", "annually"])
    currencies = rng.choice(["USD, GBP and CHF", "USD and JPY", "USD, SEK and NOK"])
    doc = Doc(f"treasury-policy-{short.lower()}.html", f"{short} treasury policy")
    name = f"{short}'s treasury policy"
    doc.section(
        "Scope",
        f"This policy governs the treasury activities of {full}.",
        doc.fact(
            f"Foreign exchange exposure is managed in {currencies}.",
            [currencies],
            f"Which currencies does {name} cover?",
            f"In which currencies does {short} manage FX exposure?",
        ),
    )
    doc.section(
        "Hedging",
        doc.fact(
            f"The treasury hedges {hedge}% of forecast foreign currency purchases.",
            [f"{hedge}%"],
            f"What share of forecast currency purchases does {short} hedge?",
            f"What hedge ratio does {name} require?",
        ),
        doc.fact(
            f"Hedges may have a maximum tenor of {n_words(tenor)} months.",
            [f"{n_words(tenor)} months", f"{tenor} months"],
            f"What is the maximum hedge tenor under {name}?",
            f"How long may {short}'s hedges run at most?",
        ),
        "Only forwards and plain vanilla options may be used; speculative positions are prohibited.",
    )
    doc.section(
        "Liquidity and counterparties",
        doc.fact(
            f"A minimum cash buffer of EUR {buffer} million is held at all times.",
            [f"EUR {buffer} million"],
            f"How large is {short}'s minimum cash buffer?",
            f"What minimum cash must {short} keep?",
        ),
        doc.fact(
            f"Bank counterparties must hold a credit rating of at least {rating}.",
            [rating],
            f"What minimum rating must {short}'s bank counterparties have?",
            f"Which counterparty rating does {name} require?",
        ),
        doc.fact(
            f"No single bank may hold more than {limit}% of total deposits.",
            [f"{limit}%"],
            f"What share of deposits may one bank hold under {name}?",
            f"What is {short}'s limit on deposits with a single bank?",
        ),
        doc.fact(
            f"The policy is reviewed {review} by the audit committee.",
            [review],
            f"How often is {name} reviewed?",
            f"When does the audit committee review {short}'s treasury policy?",
        ),
    )
    return doc


def credit_policy(rng: random.Random, names: Names) -> Doc:
    full, short = names.company()
    single, rating = rng.choice([5, 8, 10, 12]), rng.choice(["BB+", "BBB-", "BBB"])
    ltv, interval = rng.choice([60, 65, 70, 75]), rng.choice([6, 12])
    authority, days = rng.randrange(1, 20), rng.choice([30, 45, 60, 90])
    provision = rng.choice([50, 75, 100])
    doc = Doc(f"credit-policy-{short.lower()}.docx", f"{short} credit risk policy")
    name = f"{short}'s credit policy"
    doc.section(
        "Purpose",
        f"This policy sets the credit risk limits of {full}.",
        doc.fact(
            f"Exposure to a single borrower may not exceed {single}% of equity.",
            [f"{single}%"],
            f"What is the single-borrower limit in {name}?",
            f"How much exposure may {short} have to one borrower?",
        ),
        doc.fact(
            f"New borrowers need a rating of at least {rating}.",
            [rating],
            f"What minimum rating does {name} require for new borrowers?",
            f"Which rating must a new borrower of {short} have?",
        ),
    )
    doc.section(
        "Collateral and approval",
        doc.fact(
            f"Secured loans may not exceed a loan-to-value ratio of {ltv}%.",
            [f"{ltv}%"],
            f"What is the maximum loan-to-value ratio under {name}?",
            f"Up to what LTV does {short} lend against collateral?",
        ),
        doc.fact(
            f"Loans above EUR {authority} million require approval by the credit committee.",
            [f"EUR {authority} million"],
            f"Above what amount does a loan need credit committee approval at {short}?",
            f"What is the approval threshold in {name}?",
        ),
        doc.fact(
            f"Every borrower is reviewed at least every {n_words(interval)} months.",
            [f"{n_words(interval)} months", f"{interval} months"],
            f"How often are borrowers reviewed under {name}?",
            f"What is the review interval for {short}'s borrowers?",
        ),
    )
    doc.section(
        "Arrears",
        doc.fact(
            f"A loan is classed as non-performing when it is {days} days past due.",
            [f"{days} days"],
            f"When is a loan non-performing under {name}?",
            f"After how many days past due does {short} class a loan as non-performing?",
        ),
        doc.fact(
            f"Non-performing unsecured loans are provisioned at {provision}%.",
            [f"{provision}%"],
            f"At what rate are non-performing unsecured loans provisioned under {name}?",
            f"What provision does {short} book on non-performing unsecured loans?",
        ),
        "Exceptions to this policy are reported to the board each quarter.",
    )
    return doc


def factsheet(rng: random.Random, names: Names) -> Doc:
    _, short = names.company()
    fund = f"{short} {rng.choice(['European Equity', 'Global Bond', 'Sustainable Income', 'Small Cap Growth'])} Fund"
    ter, year = rng.choice([0.35, 0.55, 0.85, 1.1, 1.45]), rng.randint(2004, 2021)
    aum, ret = rng.randrange(80, 3_000, 10), rng.choice([-2.4, 3.8, 6.1, 8.9, 12.3, 15.0])
    risk, manager = rng.randint(2, 6), names.person()
    benchmark = rng.choice(
        ["MSCI Europe", "Bloomberg Global Aggregate", "STOXX Europe 600", "MSCI World Small Cap"]
    )
    doc = Doc(f"factsheet-{short.lower()}", f"{fund}: factsheet")
    doc.section(
        "Fund facts",
        doc.fact(
            f"The {fund} was launched in {year}.",
            [str(year)],
            f"When was the {fund} launched?",
            f"In what year did the {fund} start?",
        ),
        doc.fact(
            f"Its total expense ratio is {ter}% a year.",
            [f"{ter}%"],
            f"What is the total expense ratio of the {fund}?",
            f"How much does the {fund} cost per year?",
        ),
        doc.fact(
            f"The fund is measured against the {benchmark} index.",
            [benchmark],
            f"What is the benchmark of the {fund}?",
            f"Which index is the {fund} measured against?",
        ),
        doc.fact(
            f"Assets under management are EUR {aum} million.",
            [f"EUR {aum} million"],
            f"How large is the {fund}?",
            f"What are the assets under management of the {fund}?",
        ),
        doc.fact(
            f"The one-year return was {ret}%.",
            [f"{ret}%"],
            f"What was the one-year return of the {fund}?",
            f"How did the {fund} perform over one year?",
        ),
        doc.fact(
            f"The fund has a risk class of {risk} on a scale of 1 to 7.",
            [f"{risk} on a scale of 1 to 7", str(risk)],
            f"What is the risk class of the {fund}?",
            f"How risky is the {fund} on the 1 to 7 scale?",
        ),
        doc.fact(
            f"The portfolio manager is {manager}.",
            [manager],
            f"Who manages the {fund}?",
            f"Who is the portfolio manager of the {fund}?",
        ),
        "Past performance does not predict future returns.",
    )
    return doc


# --- medical -----------------------------------------------------------------------------

DRUGS = [
    "Veltrazine",
    "Orbaclin",
    "Dexamorin",
    "Lunavex",
    "Trexiflor",
    "Pallidrex",
    "Sorenta",
    "Quilomab",
    "Framizol",
    "Nerovant",
    "Castipril",
    "Ambrelix",
    "Zentoral",
    "Hepavir",
    "Elvoxa",
    "Fintrelin",
    "Gravolin",
    "Ixaprone",
    "Jurmetin",
    "Kelvanor",
    "Mystrelle",
    "Nodrafen",
    "Oxelbin",
    "Pyranex",
]
CONDITIONS = [
    "community-acquired pneumonia",
    "acute asthma",
    "diabetic ketoacidosis",
    "atrial fibrillation",
    "severe migraine",
    "acute gout",
    "cellulitis",
    "hyperkalaemia",
]
PROCEDURES = [
    "knee arthroscopy",
    "laparoscopic appendectomy",
    "cataract surgery",
    "hernia repair",
    "hip replacement",
    "tonsillectomy",
]


def leaflet(rng: random.Random, drugs: list[str]) -> Doc:
    drug = drugs.pop()
    use = rng.choice(
        [
            "high blood pressure",
            "seasonal allergies",
            "nerve pain",
            "acid reflux",
            "mild to moderate acne",
            "overactive bladder",
        ]
    )
    dose, times = (
        rng.choice([5, 10, 20, 25, 50]),
        rng.choice(["once daily", "twice daily", "three times daily"]),
    )
    maximum, missed = dose * rng.choice([2, 3, 4]), rng.choice([4, 6, 8, 12])
    effect, storage = (
        rng.choice(["dizziness", "a dry mouth", "headache", "nausea"]),
        rng.choice([25, 30]),
    )
    avoid = rng.choice(
        ["grapefruit juice", "alcohol", "St John's wort", "antacids within two hours"]
    )
    doc = Doc(f"leaflet-{drug.lower()}", f"{drug} {dose} mg tablets: patient leaflet")
    doc.section(
        "About this medicine",
        doc.fact(
            f"{drug} is used to treat {use}.",
            [use],
            f"What is {drug} used for?",
            f"What condition does {drug} treat?",
        ),
        doc.fact(
            f"Adults take one {dose} mg tablet {times}.",
            [f"one {dose} mg tablet {times}", f"{dose} mg {times}"],
            f"What is the usual adult dose of {drug}?",
            f"How should adults take {drug}?",
        ),
        doc.fact(
            f"Do not take more than {maximum} mg of {drug} in 24 hours.",
            [f"{maximum} mg"],
            f"What is the maximum daily dose of {drug}?",
            f"How much {drug} may be taken in 24 hours at most?",
        ),
        doc.fact(
            f"If you miss a dose, take it as soon as you remember, unless the next dose is due within {missed} hours.",
            [f"{missed} hours"],
            f"What should you do if you miss a dose of {drug}?",
            f"When should a missed dose of {drug} be skipped?",
        ),
        doc.fact(
            f"The most common side effect is {effect}.",
            [effect],
            f"What is the most common side effect of {drug}?",
            f"Which side effect is most often reported with {drug}?",
        ),
        doc.fact(
            f"Avoid {avoid} while taking {drug}.",
            [avoid],
            f"What should be avoided while taking {drug}?",
            f"What must patients on {drug} stay away from?",
        ),
        doc.fact(
            f"Store {drug} below {storage} degrees Celsius.",
            [f"{storage} degrees Celsius"],
            f"How should {drug} be stored?",
            f"Below what temperature must {drug} be kept?",
        ),
        "Keep this medicine out of the sight and reach of children.",
    )
    return doc


def protocol(rng: random.Random, drugs: list[str], conditions: list[str], ext: str) -> Doc:
    condition, drug = conditions.pop(), drugs.pop()
    dose, route = rng.choice([250, 500, 750, 1000]), rng.choice(["intravenously", "orally"])
    within = rng.choice([1, 2, 4, 6])
    monitor, days = rng.choice([2, 4, 6, 8]), rng.choice([5, 7, 10, 14])
    threshold = rng.choice(
        [
            "oxygen saturation below 92%",
            "heart rate above 130",
            "systolic pressure below 90 mmHg",
            "a lactate above 4 mmol/l",
        ]
    )
    alt = drugs.pop()
    doc = Doc(
        f"protocol-{condition.split()[-1].lower()}-{drug.lower()}.{ext}",
        f"Clinical protocol: {condition}",
    )
    doc.section(
        "Scope",
        f"This protocol covers adults admitted with {condition}.",
        doc.fact(
            f"The first-line treatment for {condition} is {drug}.",
            [drug],
            f"What is the first-line treatment for {condition}?",
            f"Which drug is given first for {condition}?",
        ),
        doc.fact(
            f"{drug} is given at {dose} mg {route}.",
            [f"{dose} mg {route}", f"{dose} mg"],
            f"What dose of {drug} is given for {condition}?",
            f"How is {drug} dosed in the {condition} protocol?",
        ),
        doc.fact(
            f"The first dose must be given within {n_words(within)} hours of diagnosis.",
            [f"{n_words(within)} hours", f"{within} hours"],
            f"How soon must treatment start for {condition}?",
            f"Within how many hours of diagnosis is the first dose of {drug} due?",
        ),
    )
    doc.section(
        "Monitoring and escalation",
        doc.fact(
            f"Vital signs are checked every {n_words(monitor)} hours during treatment.",
            [f"{n_words(monitor)} hours", f"{monitor} hours"],
            f"How often are vital signs checked in the {condition} protocol?",
            f"What is the monitoring interval for patients with {condition}?",
        ),
        doc.fact(
            f"Escalate to the critical care team if the patient has {threshold}.",
            [threshold],
            f"When should a patient with {condition} be escalated to critical care?",
            f"What triggers escalation in the {condition} protocol?",
        ),
        doc.fact(
            f"Patients allergic to {drug} receive {alt} instead.",
            [alt],
            f"What is given to patients with {condition} who are allergic to {drug}?",
            f"What is the alternative to {drug} for {condition}?",
        ),
        doc.fact(
            f"Treatment usually continues for {n_words(days)} days.",
            [f"{n_words(days)} days", f"{days} days"],
            f"How long does treatment for {condition} last?",
            f"For how many days is {condition} treated?",
        ),
    )
    return doc


def discharge(rng: random.Random, procedures: list[str], ext: str) -> Doc:
    procedure = procedures.pop()
    dressing, shower = rng.choice([2, 3, 5, 7]), rng.choice([2, 3, 5])
    drive, lift = rng.choice([1, 2, 4, 6]), rng.choice([5, 10])
    work, follow = rng.choice([1, 2, 4, 6]), rng.choice([7, 10, 14])
    fever = rng.choice(["38.0", "38.5"])
    doc = Doc(f"discharge-{procedure.split()[-1].lower()}.{ext}", f"Going home after {procedure}")
    doc.section(
        "Wound care",
        f"This guideline is for patients going home after {procedure}.",
        doc.fact(
            f"Keep the dressing on for {n_words(dressing)} days.",
            [f"{n_words(dressing)} days", f"{dressing} days"],
            f"How long should the dressing stay on after {procedure}?",
            f"When can the dressing come off after {procedure}?",
        ),
        doc.fact(
            f"You may shower after {n_words(shower)} days.",
            [f"{n_words(shower)} days", f"{shower} days"],
            f"When may patients shower after {procedure}?",
            f"How soon after {procedure} is showering allowed?",
        ),
    )
    doc.section(
        "Activity",
        doc.fact(
            f"Do not drive for {n_words(drive)} weeks.",
            [f"{n_words(drive)} weeks", f"{drive} weeks"],
            f"How long must patients avoid driving after {procedure}?",
            f"When can I drive again after {procedure}?",
        ),
        doc.fact(
            f"Do not lift more than {lift} kilograms until the follow-up visit.",
            [f"{lift} kilograms"],
            f"How much may patients lift after {procedure}?",
            f"What is the lifting limit after {procedure}?",
        ),
        doc.fact(
            f"Most patients return to office work after {n_words(work)} weeks.",
            [f"{n_words(work)} weeks", f"{work} weeks"],
            f"When can patients go back to office work after {procedure}?",
            f"How long are most patients off work after {procedure}?",
        ),
    )
    doc.section(
        "Follow-up and warning signs",
        doc.fact(
            f"A follow-up appointment takes place after {follow} days.",
            [f"{follow} days"],
            f"When is the follow-up appointment after {procedure}?",
            f"How many days after {procedure} is the check-up?",
        ),
        doc.fact(
            f"Call the ward if your temperature rises above {fever} degrees Celsius.",
            [f"{fever} degrees Celsius"],
            f"At what temperature should patients call after {procedure}?",
            f"What fever is a warning sign after {procedure}?",
        ),
    )
    return doc


# --- writers -------------------------------------------------------------------------------


def as_text(doc: Doc, markdown: bool) -> str:
    lines = [f"# {doc.title}" if markdown else doc.title.upper(), ""]
    for heading, sentences in doc.sections:
        lines += [f"## {heading}" if markdown else heading, "", " ".join(sentences), ""]
    return "\n".join(lines)


def as_html(doc: Doc) -> str:
    body = "".join(
        f"<h2>{html.escape(h)}</h2><p>{html.escape(' '.join(s))}</p>" for h, s in doc.sections
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(doc.title)}</title>"
        f"</head><body><h1>{html.escape(doc.title)}</h1>{body}</body></html>\n"
    )


def write_pdf(doc: Doc, path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_creation_date(datetime(2026, 1, 1, tzinfo=UTC))  # reproducible bytes
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 15)
    lines = [("B", 15, 8, doc.title)]
    for heading, sentences in doc.sections:
        lines += [("B", 12, 8, heading), ("", 11, 6, " ".join(sentences))]
    for style, size, height, text in lines:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(0, height, text, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))


def write_docx(doc: Doc, path: Path) -> None:
    import docx

    document = docx.Document()
    document.core_properties.title = doc.title
    document.add_heading(doc.title, level=1)
    for heading, sentences in doc.sections:
        document.add_heading(heading, level=2)
        document.add_paragraph(" ".join(sentences))
    document.save(str(path))


def write(doc: Doc, folder: Path) -> None:
    path = folder / doc.doc_id
    suffix = path.suffix
    writers: dict[str, Callable[[], None]] = {
        ".md": lambda: path.write_text(as_text(doc, markdown=True)),
        ".txt": lambda: path.write_text(as_text(doc, markdown=False)),
        ".html": lambda: path.write_text(as_html(doc)),
        ".pdf": lambda: write_pdf(doc, path),
        ".docx": lambda: write_docx(doc, path),
    }
    writers[suffix]()


def write_records(docs: list[Doc], path: Path) -> None:
    path.write_text(
        "".join(
            json.dumps({"doc_id": d.doc_id, "title": d.title, "text": as_text(d, True)}) + "\n"
            for d in docs
        )
    )


def build_domain(
    domain: str, files: list[Doc], records: dict[str, list[Doc]], rng: random.Random
) -> int:
    folder = CORPUS / domain
    folder.mkdir(parents=True)
    for doc in files:
        write(doc, folder)
    for name, docs in records.items():
        write_records(docs, folder / name)
    rows = []
    for doc in [*files, *(d for docs in records.values() for d in docs)]:
        for n, fact in enumerate(doc.facts, 1):
            rows.append(
                {
                    "id": f"{domain}-{doc.doc_id.split('.')[0]}-{n}",
                    "domain": domain,
                    "question": rng.choice(fact.questions),
                    "answers": fact.answers,
                    "evidence": [fact.evidence],
                    "doc_id": doc.doc_id,
                }
            )
    rng.shuffle(rows)
    cut = int(len(rows) * (1 - TEST_SHARE))
    for split, part in (("train", rows[:cut]), ("test", rows[cut:])):
        (QA_DIR / f"{domain}_{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in part))
    return len(rows)


def main() -> None:
    rng = random.Random(SEED)
    drugs, conditions, procedures = DRUGS[:], CONDITIONS[:], PROCEDURES[:]
    rng.shuffle(drugs)
    for folder in (CORPUS, QA_DIR):
        shutil.rmtree(folder, ignore_errors=True)
    QA_DIR.mkdir(parents=True)
    names = Names(rng)
    legal = (
        [lease(rng, names) for _ in range(5)]
        + [nda(rng, names) for _ in range(5)]
        + [service_agreement(rng, names) for _ in range(4)]
        + [employment(rng, names, ext) for ext in ("pdf", "pdf", "pdf", "docx", "docx", "docx")]
    )
    names = Names(rng)  # names may recur across domains, never within one
    finance = (
        [quarterly(rng, names, ext) for ext in ("md", "md", "md", "md", "md", "pdf", "pdf", "pdf")]
        + [treasury(rng, names) for _ in range(4)]
        + [credit_policy(rng, names) for _ in range(4)]
    )
    funds = [factsheet(rng, names) for _ in range(5)]
    leaflets = [leaflet(rng, drugs) for _ in range(10)]
    medical = [
        protocol(rng, drugs, conditions, ext) for ext in ("md", "md", "md", "pdf", "pdf", "pdf")
    ] + [
        discharge(rng, procedures, ext) for ext in ("html", "html", "html", "docx", "docx", "docx")
    ]
    counts = {
        "legal": build_domain("legal", legal, {}, rng),
        "finance": build_domain("finance", finance, {"funds.jsonl": funds}, rng),
        "medical": build_domain("medical", medical, {"leaflets.jsonl": leaflets}, rng),
    }
    docs = {
        "legal": len(legal),
        "finance": len(finance) + len(funds),
        "medical": len(medical) + len(leaflets),
    }
    for domain, n in counts.items():
        print(f"{domain}: {docs[domain]} documents, {n} QA rows")


if __name__ == "__main__":
    main()
