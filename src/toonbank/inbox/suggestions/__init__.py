"""AI reply suggestions for the inbox and the loop that learns from agents' decisions.

Read top to bottom: :mod:`.templating` (variables), :mod:`.facts` (the customer's order and
cart), :mod:`.knowledge` (the knowledge-base hook), :mod:`.bank` (the learned answer bank),
:mod:`.engine` (ranking), :mod:`.service` (compute, decide, learn; never commits),
:mod:`.api` (REST).
"""
