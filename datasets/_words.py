"""Help-desk words and sentence frames for :mod:`pitfalls.datasets.text` (public by design).

Nothing here says which team a word belongs to: that association is drawn per installation from
the secret-seeded generator, so these lists carry no label information.
"""

from __future__ import annotations

NOUNS: tuple[str, ...] = tuple("""
account address adapter alert app archive attachment backup badge balance bank banner basket battery
bill booking browser budget bundle button cable calendar camera card carrier cart certificate channel
charge charger chat checkout cloud code colleague company contract cookie copy counter coupon courier
credit customer dashboard database deadline delivery deposit desk device dialog discount disk display
document domain download driver email error export fee field file filter firmware folder form
gateway gift guest headset history host icon import inbox installer invoice item key keyboard label
language laptop launch license limit link list lock login logo mailbox manager margin meeting member
menu message method microphone mobile modem monitor mouse network notice notification office option
order outage owner package page parcel partner password payment permission phone photo plan plugin
policy port portal price printer profile purchase queue quote receipt record refund region report
request reservation router sample scanner schedule screen seat server session setting shipment signal
signature size slot software speaker statement status storage subscription supplier survey switch
system tablet tax team template terminal ticket token tracking transfer trial upgrade upload user
version voucher wallet warehouse warranty website window workspace
""".split())

VERBS: tuple[str, ...] = tuple("""
accept access activate add allow apply approve archive assign attach authorize back block book
bounce cancel change charge check claim clear click close collect configure confirm connect convert
crash create credit debit decline delay delete deliver deny deploy disable disconnect dispatch
download drop duplicate edit enable encrypt enroll expire export fail fetch fix flag forward freeze
generate hang import install invite issue join lag load lock log lose mark merge migrate miss move
offer open order overcharge pack pair pay pick post print process purchase receive refresh refund
register reject reload remove renew reorder repair replace request reset resend restart restore
return route save scan schedule search send ship show sign split start stop submit suspend swap
sync track transfer update upgrade upload validate verify wait warn wipe
""".split())

GREETINGS: tuple[str, ...] = (
    "Hi team,", "Hello,", "Hi there,", "Good morning,", "Dear support,", "Hey,", "Hello support team,", "",
)
CLOSINGS: tuple[str, ...] = (
    "Thanks", "Thank you", "Regards", "Best regards", "Cheers", "Many thanks", "Thanks in advance", "",
)
FRAMES: tuple[str, ...] = (
    "I tried to {v} the {n} but it {vs} the {np} instead.",
    "Since yesterday the {n} keeps {ving} when I {v} my {n}.",
    "We {ved} the {np} last week and the {n} was never {ved}.",
    "Could you {v} my {n}? The {n} {vs} every time.",
    "The {np} are {ving} and nobody {ved} the {n}.",
    "My {n} got {ved} after the {n} {ved}.",
    "Please {v} the {n} for our {np}.",
    "It looks like the {n} {ved} the {np} twice.",
    "After {ving} the {n} I cannot {v} the {np}.",
    "Is there a way to {v} {np} without {ving} the {n}?",
    "The {n} says the {n} was {ved} but my {np} still show nothing.",
    "Our {np} {v} fine but the {n} {vs} since the {n} update.",
    "I need to {v} the {n} before the {n} {vs}.",
    "Someone {ved} my {n} and now the {np} are {ved}.",
)
CODE_FRAMES: tuple[str, ...] = (
    "It shows error {code}.", "The screen says code {code}.", "Got error {code} again.",
    "Status {code} keeps coming back.", "Error {code} appears right away.",
)
ORDER_FRAMES: tuple[str, ...] = (
    "Order {num}.", "Reference {num}.", "Case {num}.", "Customer number {num}.",
)
SYLLABLES: tuple[str, ...] = tuple(
    "ba be bi bo bu da de di do du ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no nu "
    "ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo vu za ze zi zo zu".split())
