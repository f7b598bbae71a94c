"""The words of mini-LaMP: topics, their synonyms, names, and the small closed word lists.

Every topic is a list of concepts; a concept is a *core* word followed by one or two real
synonyms or close paraphrases (``ship: vessel, boat``). Inputs always use the core words; a
profile entry that paraphrases an input uses the synonyms only, so that exact-token BM25 misses
it while a sentence encoder still matches it by meaning. Every word form belongs to exactly one
concept (checked by ``tests/test_synth.py``), and no topic word occurs in a template.

Anchors are surnames used as brands, directors, projects, methods or teams: a user's habit for
an anchor overrides their habit for the input's topic. Places are town names that carry no
preference at all; both are plain tokens to BM25.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Topic", "TOPICS", "TOPIC_NAMES", "ANCHORS", "PLACES", "WORD_TOPIC", "WORD_CONCEPT", "CORES",
           "SYNONYMS", "topic"]


@dataclass(frozen=True)
class Topic:
    """One subject: its concepts (core word -> synonyms) and the movie tags it suggests."""

    name: str
    concepts: tuple[tuple[str, tuple[str, ...]], ...]
    tags: tuple[str, str, str]  # LaMP-2: population default first, then two personal habits
    hashtags: tuple[str, str, str]  # LaMP-7: the tags a user may sign tweets on this topic with

    @property
    def cores(self) -> tuple[str, ...]:
        return tuple(core for core, _ in self.concepts)

    def synonyms(self, core: str) -> tuple[str, ...]:
        return dict(self.concepts)[core]


def _topic(name: str, spec: str, tags: str, hashtags: str) -> Topic:
    concepts = []
    for part in spec.split(";"):
        core, syns = part.split(":")
        concepts.append((core.strip(), tuple(s.strip() for s in syns.split(","))))
    tag_list = tuple(t.strip() for t in tags.split("|"))
    return Topic(name, tuple(concepts), tag_list, tuple(hashtags.split()))  # type: ignore[arg-type]


TOPICS: tuple[Topic, ...] = (
    _topic("space", "rocket: spacecraft, shuttle; astronaut: cosmonaut, spaceman; universe: cosmos; "
           "launch: liftoff, blastoff; alien: extraterrestrial, martian; telescope: observatory; "
           "moon: satellite; galaxy: nebula; orbit: trajectory; meteor: asteroid, comet; "
           "station: outpost; planet: world",
           "sci-fi | thought-provoking | dystopia", "#spacelife #stargazing #launchday"),
    _topic("ocean", "ship: vessel, boat; sailor: mariner, seaman; harbor: port, dock; wave: swell, surf; "
           "coast: shore, seaside; island: isle, atoll; captain: skipper; reef: shoal; tide: ebb; "
           "sea: ocean; voyage: crossing; pirate: buccaneer, corsair",
           "action | true story | classic", "#sealife #saltwater #coastlove"),
    _topic("cooking", "chef: cook; oven: stove; soup: broth, stew; bread: loaf, baguette; "
           "cake: pastry, dessert; meal: dinner, supper; spice: seasoning; pan: skillet, saucepan; "
           "flavor: taste; bakery: patisserie; restaurant: bistro, diner; feast: banquet",
           "comedy | romance | true story", "#foodie #homecooking #chefmode"),
    _topic("music", "song: tune, melody; singer: vocalist; band: ensemble; concert: gig, recital; "
           "album: record; piano: pianoforte; drummer: percussionist; orchestra: symphony; "
           "verse: stanza; rhythm: beat, tempo; choir: chorus; composer: songwriter",
           "romance | true story | classic", "#livemusic #nowplaying #musiclover"),
    _topic("medicine", "doctor: physician, medic; nurse: caregiver; hospital: clinic, infirmary; "
           "disease: illness, sickness; medication: prescription; surgery: operation; "
           "vaccine: immunization, jab; pain: ache; injury: wound; cure: remedy, treatment; "
           "pill: tablet, capsule; virus: germ, pathogen",
           "true story | psychology | thought-provoking", "#healthcare #medlife #stayhealthy"),
    _topic("finance", "money: cash, currency; bank: lender; loan: credit; investor: shareholder, backer; "
           "stock: share, equity; profit: gain, surplus; debt: liability, deficit; tax: levy; "
           "wealth: fortune, affluence; price: cost, fee; recession: downturn, slump; banker: financier",
           "social commentary | true story | dark comedy", "#moneytalk #investing #marketwatch"),
    _topic("football", "team: squad; athlete: player, sportsman; coach: trainer, manager; stadium: arena; "
           "match: game, fixture; referee: umpire; fan: supporter; striker: forward; "
           "goalkeeper: keeper, goalie; league: division; trophy: cup; victory: win, triumph",
           "true story | comedy | action", "#matchday #footballfan #gameday"),
    _topic("gardening", "garden: yard, allotment; flower: blossom, bloom; seedling: sprout, shoot; "
           "soil: dirt, earth; gardener: horticulturist, planter; vegetable: produce; "
           "hedge: shrub, bush; shovel: spade, trowel; compost: mulch, manure; lawn: grass, turf; "
           "greenhouse: hothouse; orchard: grove",
           "romance | comedy | based on a book", "#gardenlife #growyourown #plantlover"),
    _topic("crime", "detective: investigator, sleuth; officer: constable, patrolman; thief: burglar, robber; "
           "murder: killing, homicide; prison: jail, penitentiary; criminal: crook, offender; "
           "witness: bystander, onlooker; evidence: clue, proof; robbery: heist, theft; judge: magistrate; "
           "lawyer: attorney, counsel; gang: mob, syndicate",
           "violence | twist ending | dark comedy", "#truecrime #whodunit #casefiles"),
    _topic("war", "soldier: trooper, infantryman; army: military, legion; battle: combat, fight; "
           "general: commander; weapon: armament; tank: panzer; enemy: foe, adversary; bomb: explosive; "
           "invasion: assault, attack; trench: foxhole, dugout; rifle: musket, carbine; "
           "truce: ceasefire, armistice",
           "violence | action | true story", "#warhistory #neverforget #frontline"),
    _topic("school", "teacher: educator, tutor; student: pupil, learner; classroom: schoolroom; "
           "homework: assignment, coursework; exam: quiz; lesson: lecture; principal: headmaster, headteacher; "
           "textbook: primer, schoolbook; grade: mark; university: college, campus; "
           "graduation: commencement; playground: schoolyard",
           "comedy | social commentary | based on a book", "#teacherlife #backtoschool #studygram"),
    _topic("magic", "wizard: sorcerer, magician; spell: charm, incantation; witch: sorceress, enchantress; "
           "dragon: wyvern, serpent; castle: fortress, citadel; wand: staff, rod; potion: elixir, brew; "
           "fairy: sprite, pixie; curse: hex, jinx; giant: ogre, troll; quest: odyssey; amulet: talisman",
           "fantasy | based on a book | classic", "#fantasyworld #magicmoments #spellbound"),
    _topic("computers", "computer: pc, laptop; software: program, application; hacker: intruder; "
           "robot: android, automaton; internet: web; programmer: coder, developer; "
           "screen: monitor, display; password: passcode; server: mainframe; keyboard: keypad; "
           "processor: microchip; gadget: device, gizmo",
           "sci-fi | dystopia | thought-provoking", "#techlife #coding #geekout"),
    _topic("mountains", "mountain: peak, summit; climber: mountaineer, alpinist; cliff: precipice, crag; "
           "rope: cord; glacier: icefield; valley: gorge, canyon; avalanche: snowslide, landslide; "
           "trail: path, track; camp: basecamp, campsite; hiker: trekker, rambler; ridge: crest; "
           "cave: cavern, grotto",
           "action | true story | thought-provoking", "#hikingadventures #summitfever #trailtime"),
    _topic("politics", "politician: lawmaker, legislator; election: ballot, vote; president: premier; "
           "government: administration; parliament: congress, senate; protest: demonstration, rally; "
           "law: legislation, statute; citizen: resident, national; minister: secretary; "
           "policy: platform, agenda; scandal: controversy; debate: discussion",
           "social commentary | dystopia | dark comedy", "#politics #civicduty #policywonk"),
    _topic("wedding", "bride: fiancee; groom: bridegroom, fiance; wedding: marriage, nuptials; "
           "love: affection, devotion; kiss: embrace; couple: pair, twosome; honeymoon: getaway; "
           "bouquet: posy, corsage; proposal: engagement; ceremony: ritual; guest: invitee; vow: pledge, oath",
           "romance | comedy | classic", "#weddingday #happilyeverafter #justmarried"),
    _topic("art", "painter: artist; painting: canvas, picture; museum: gallery; sculpture: statue, carving; "
           "portrait: likeness; brush: paintbrush; color: hue, shade; sketch: drawing, doodle; "
           "exhibition: showcase, exhibit; studio: atelier; mural: fresco; paint: pigment",
           "psychology | based on a book | classic", "#artlover #museumday #creativelife"),
    _topic("travel", "trip: journey, excursion; tourist: traveler, sightseer; hotel: inn, lodge; "
           "luggage: baggage, suitcase; train: railway, locomotive; airplane: plane, aircraft; "
           "airport: airfield; map: atlas; vacation: holiday; passport: visa; border: frontier; "
           "backpack: rucksack, knapsack",
           "romance | comedy | thought-provoking", "#wanderlust #travelgram #passportready"),
    _topic("animals", "dog: hound, puppy; cat: feline, kitten; horse: stallion, pony; zoo: menagerie; "
           "elephant: pachyderm; monkey: ape, chimp; rabbit: bunny, hare; vet: veterinarian; "
           "pet: companion; bear: grizzly; fox: vixen; snake: viper, adder",
           "comedy | fantasy | true story", "#animallovers #petsofinstagram #wildlife"),
    _topic("weather", "storm: tempest, gale; rain: downpour, drizzle; snow: blizzard, snowfall; flood: deluge; "
           "wind: breeze, gust; thunder: lightning; hurricane: cyclone, typhoon; forecast: outlook, prediction; "
           "drought: dryness; fog: mist, haze; heatwave: scorcher; tornado: twister",
           "action | thought-provoking | dystopia", "#weatherwatch #stormchasing #skywatch"),
    _topic("dreams", "dream: vision, reverie; memory: recollection, remembrance; mind: psyche, brain; "
           "sleep: slumber; therapist: psychiatrist, analyst; fear: dread, terror; madness: insanity, lunacy; "
           "hallucination: delusion, illusion; emotion: feeling, mood; amnesia: forgetfulness; "
           "anxiety: worry, nervousness; consciousness: awareness",
           "psychology | twist ending | fantasy", "#mindmatters #dreamjournal #innerworld"),
    _topic("royalty", "king: monarch, sovereign; queen: consort; prince: heir; princess: duchess; "
           "palace: chateau, mansion; crown: tiara, diadem; empire: realm, dominion; knight: cavalier, paladin; "
           "noble: aristocrat, lord; dynasty: lineage, bloodline; coronation: crowning, enthronement; "
           "servant: butler, maid",
           "classic | based on a book | true story", "#royalwatch #historybuff #crownjewels"),
    _topic("cars", "car: automobile, vehicle; driver: motorist, chauffeur; engine: motor; tire: tyre, wheel; "
           "road: highway, motorway; garage: workshop; mechanic: repairman, technician; crash: collision, wreck; "
           "speed: velocity, pace; fuel: petrol, gasoline; truck: lorry, pickup; racer: speedster",
           "action | comedy | true story", "#carlife #roadtrip #petrolhead"),
    _topic("farm", "farm: ranch, homestead; farmer: rancher, peasant; tractor: plough, harvester; "
           "cow: heifer, calf; barn: stable, shed; harvest: crop, yield; sheep: lamb, ewe; pig: hog, swine; "
           "field: meadow, pasture; wheat: grain, barley; chicken: hen, poultry; village: hamlet",
           "comedy | classic | true story", "#farmlife #harvestseason #countryliving"),
)

TOPIC_NAMES: tuple[str, ...] = tuple(t.name for t in TOPICS)
_BY_NAME = {t.name: t for t in TOPICS}

# word form -> (topic name, core word of its concept)
WORD_CONCEPT: dict[str, tuple[str, str]] = {}
for _t in TOPICS:
    for _core, _syns in _t.concepts:
        for _w in (_core, *_syns):
            WORD_CONCEPT[_w] = (_t.name, _core)
WORD_TOPIC: dict[str, str] = {w: tc[0] for w, tc in WORD_CONCEPT.items()}
CORES: dict[str, tuple[str, ...]] = {t.name: t.cores for t in TOPICS}  # topic -> its core words
SYNONYMS: dict[str, tuple[str, ...]] = {core: syns for t in TOPICS for core, syns in t.concepts}

ANCHORS: tuple[str, ...] = (
    "Halvorsen", "Ostrander", "Pemberton", "Lindqvist", "Castellano", "Whitcombe", "Marchetti",
    "Ravensworth", "Albrecht", "Delacroix", "Kowalczyk", "Abernathy", "Thornquist", "Vandermeer",
    "Okonkwo", "Brannigan", "Haverford", "Montague", "Sorensen", "Quintero", "Achterberg", "Galloway",
    "Wexley", "Ivanova", "Strickland", "Nakamura", "Moreau", "Crenshaw", "Ellsworth", "Farrington",
)

PLACES: tuple[str, ...] = (
    "Ashford", "Brookfield", "Millbrook", "Dunmore", "Riverton", "Stonebridge", "Westmere", "Gresham",
    "Harrowgate", "Kendal", "Lakemont", "Northfield", "Larkin", "Morland", "Penrith", "Thornbury",
    "Eastleigh", "Fairmont", "Glenwood", "Highbury", "Marshfield", "Tamworth", "Elmstead", "Rosedale",
    "Silverton", "Wexford", "Woodbridge", "Ambleside", "Bramley", "Carlow",
)


def topic(name: str) -> Topic:
    return _BY_NAME[name]
