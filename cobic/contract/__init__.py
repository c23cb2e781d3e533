"""Contracts: terms, capitation, risk-share bands, incentives, settlement, mechanisms."""

from cobic.contract.calculator import Priced, apply_terms, price, simulate_contract_costs
from cobic.contract.mechanisms import compare_mechanisms
from cobic.contract.settlement import load_actuals, settle
from cobic.contract.terms import ContractTerms, load_contract, parse_contract

__all__ = ["ContractTerms", "Priced", "apply_terms", "compare_mechanisms", "load_actuals",
           "load_contract", "parse_contract", "price", "settle", "simulate_contract_costs"]
