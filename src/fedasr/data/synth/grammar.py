"""Transcripts for the embedded corpus: spoken digit strings and a smart-home command grammar.

Every sentence uses only lowercase letters, apostrophes and spaces, so the character tokenizer
covers it without normalization. Numbers, times and durations are spelled out because the TTS
engines would otherwise read digits in their own (engine-specific) way.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_TEENS = (
    "ten", "eleven", "twelve", "thirteen", "fourteen",
    "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")

ROOMS = (
    "kitchen", "living room", "bedroom", "bathroom", "hallway", "garage", "office",
    "dining room", "basement", "attic", "nursery", "guest room", "laundry room", "porch",
)  # fmt: skip
LIGHTS = ("light", "lights", "lamp", "ceiling light", "desk lamp", "night light", "spotlights")
APPLIANCES = (
    "fan", "heater", "air conditioner", "television", "radio", "speaker", "coffee machine",
    "kettle", "oven", "dishwasher", "washing machine", "dryer", "humidifier", "vacuum cleaner",
    "projector", "computer", "printer", "toaster",
)  # fmt: skip
DOORS = ("window", "garage door", "front door", "back door", "gate", "fridge", "skylight")
OPENABLES = ("blinds", "curtains", *DOORS)
NAMES = (
    "alice", "bob", "carol", "david", "emma", "frank", "grace", "henry", "isabel", "jack",
    "karen", "liam", "maria", "nathan", "olivia", "peter", "quinn", "rachel", "sophie", "thomas",
    "uma", "victor", "wendy", "xavier", "yusuf", "zoe", "mum", "dad", "grandma", "grandpa",
)  # fmt: skip
CITIES = (
    "london", "paris", "berlin", "madrid", "rome", "tokyo", "boston", "chicago", "denver",
    "seattle", "sydney", "toronto", "dublin", "lisbon", "vienna", "oslo", "cairo", "delhi",
)  # fmt: skip
GENRES = (
    "jazz", "rock", "pop", "classical", "blues", "country", "reggae", "hip hop", "folk",
    "techno", "soul", "punk", "disco", "metal", "ambient", "gospel",
)  # fmt: skip
DAYS = (
    "today", "tomorrow", "tonight", "monday", "tuesday", "wednesday", "thursday", "friday",
    "saturday", "sunday", "this weekend", "next week",
)  # fmt: skip
ITEMS = (
    "milk", "bread", "eggs", "butter", "cheese", "apples", "bananas", "coffee", "tea", "rice",
    "pasta", "tomatoes", "onions", "potatoes", "chicken", "soap", "shampoo", "batteries",
    "orange juice", "yogurt", "cereal", "flour", "sugar", "salt", "carrots",
)  # fmt: skip
TASKS = (
    "water the plants", "feed the cat", "walk the dog", "take out the trash", "pay the rent",
    "call the doctor", "buy a present", "pick up the kids", "check the mail",
    "book a table", "charge my phone", "clean the fridge", "return the library books",
)  # fmt: skip
PLACES = (
    "the station", "the airport", "work", "home", "the gym", "the nearest pharmacy",
    "the supermarket", "the hospital", "the city centre", "the beach", "school", "the park",
)  # fmt: skip
MESSAGES = (
    "i'm running late", "i'll be home soon", "don't forget the keys", "see you tonight",
    "can you call me back", "we're out of milk", "the meeting is cancelled", "happy birthday",
    "i'm on my way", "dinner is ready", "it's raining here", "let's meet at noon",
)  # fmt: skip
MEDIA = ("music", "radio", "podcast", "audiobook", "news", "playlist", "song", "album")


def number_words(n: int) -> str:
    """0 to 999 spelled out the way the engines should say it ("one hundred and five")."""
    if n < 10:
        return DIGITS[n]
    if n < 20:
        return _TEENS[n - 10]
    if n < 100:
        tens, unit = divmod(n, 10)
        return _TENS[tens] + ("" if unit == 0 else " " + DIGITS[unit])
    hundreds, rest = divmod(n, 100)
    head = DIGITS[hundreds] + " hundred"
    return head if rest == 0 else f"{head} and {number_words(rest)}"


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _clock_time(rng: np.random.Generator) -> str:
    hour = number_words(int(rng.integers(1, 13)))
    minute = int(rng.integers(0, 12)) * 5
    style = int(rng.integers(4))
    if style == 0:
        text = f"{hour} o'clock"
    elif style == 1:
        text = f"half past {hour}"
    elif style == 2:
        text = f"quarter {_pick(rng, ('past', 'to'))} {hour}"
    else:
        text = f"{hour} {'oh ' + DIGITS[minute] if minute < 10 else number_words(minute)}"
    return text + _pick(rng, ("", " in the morning", " in the afternoon", " in the evening"))


def _duration(rng: np.random.Generator) -> str:
    amount = int(rng.integers(1, 61))
    unit = _pick(rng, ("second", "minute", "hour"))
    if amount == 1:
        return f"one {unit}"
    return f"{number_words(amount)} {unit}s"


def _lights(rng: np.random.Generator) -> str:
    return f"turn {_pick(rng, ('on', 'off'))} the {_pick(rng, ROOMS)} {_pick(rng, LIGHTS)}"


def _appliance(rng: np.random.Generator) -> str:
    verb = _pick(rng, ("switch on", "switch off", "start", "stop", "turn on", "turn off"))
    return f"{verb} the {_pick(rng, APPLIANCES)} in the {_pick(rng, ROOMS)}"


def _dim(rng: np.random.Generator) -> str:
    percent = number_words(int(rng.integers(1, 20)) * 5)
    return f"dim the {_pick(rng, ROOMS)} {_pick(rng, LIGHTS)} to {percent} percent"


def _thermostat(rng: np.random.Generator) -> str:
    degrees = number_words(int(rng.integers(15, 29)))
    return f"set the {_pick(rng, ROOMS)} temperature to {degrees} degrees"


def _open_close(rng: np.random.Generator) -> str:
    verb = _pick(rng, ("open", "close", "lock", "unlock"))
    return f"{verb} the {_pick(rng, OPENABLES)}"


def _music(rng: np.random.Generator) -> str:
    style = int(rng.integers(3))
    if style == 0:
        return f"play some {_pick(rng, GENRES)} in the {_pick(rng, ROOMS)}"
    if style == 1:
        return f"put on my {_pick(rng, GENRES)} {_pick(rng, MEDIA)}"
    return f"turn the {_pick(rng, MEDIA)} {_pick(rng, ('up', 'down'))} please"


def _volume(rng: np.random.Generator) -> str:
    level = number_words(int(rng.integers(0, 11)))
    return f"set the {_pick(rng, ('volume', 'speaker volume', 'bass'))} to {level}"


def _alarm(rng: np.random.Generator) -> str:
    return f"set an alarm for {_clock_time(rng)} {_pick(rng, DAYS)}"


def _timer(rng: np.random.Generator) -> str:
    return f"set a timer for {_duration(rng)}"


def _reminder(rng: np.random.Generator) -> str:
    return f"remind me to {_pick(rng, TASKS)} at {_clock_time(rng)}"


def _call(rng: np.random.Generator) -> str:
    return f"{_pick(rng, ('call', 'phone', 'video call', 'ring'))} {_pick(rng, NAMES)}"


def _message(rng: np.random.Generator) -> str:
    return f"send a message to {_pick(rng, NAMES)} saying {_pick(rng, MESSAGES)}"


def _meeting(rng: np.random.Generator) -> str:
    who = _pick(rng, NAMES)
    return f"schedule a meeting with {who} on {_pick(rng, DAYS[3:10])} at {_clock_time(rng)}"


def _weather(rng: np.random.Generator) -> str:
    what = _pick(rng, ("what's the weather like", "will it rain", "how cold is it"))
    return f"{what} in {_pick(rng, CITIES)} {_pick(rng, DAYS)}"


def _world_time(rng: np.random.Generator) -> str:
    return f"what time is it in {_pick(rng, CITIES)}"


def _shopping(rng: np.random.Generator) -> str:
    count = int(rng.integers(1, 4))
    items = [_pick(rng, ITEMS) for _ in range(count)]
    listed = items[0] if count == 1 else " ".join(items[:-1]) + " and " + items[-1]
    return f"add {listed} to my shopping list"


def _navigate(rng: np.random.Generator) -> str:
    ask = _pick(rng, ("navigate to", "how long does it take to get to", "find a route to"))
    return f"{ask} {_pick(rng, PLACES)}"


def _question(rng: np.random.Generator) -> str:
    template = _pick(
        rng,
        (
            "is the {door} open",
            "did i leave the {door} open",
            "are the {room} lights still on",
            "what's the temperature in the {room}",
            "is anyone in the {room}",
        ),
    )
    return template.format(door=_pick(rng, DOORS), room=_pick(rng, ROOMS))


COMMAND_RULES: tuple[Callable[[np.random.Generator], str], ...] = (
    _lights, _appliance, _dim, _thermostat, _open_close, _music, _volume, _alarm, _timer,
    _reminder, _call, _message, _meeting, _weather, _world_time, _shopping, _navigate, _question,
)  # fmt: skip


def command_sentence(rng: np.random.Generator) -> str:
    rule = COMMAND_RULES[int(rng.integers(len(COMMAND_RULES)))]
    return rule(rng)


def digit_sentence(rng: np.random.Generator) -> str:
    length = int(rng.integers(3, 8))
    return " ".join(DIGITS[int(d)] for d in rng.integers(0, 10, size=length))


SENTENCE_MAKERS: dict[str, Callable[[np.random.Generator], str]] = {
    "commands": command_sentence,
    "digits": digit_sentence,
}
